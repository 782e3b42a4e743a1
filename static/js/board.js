// Pipeline board: drag a card onto a later stage's column to open its stage gate with
// that stage chosen. Only later columns accept a drop (moving back is an admin's
// correction on the project page). Without JavaScript, or on a touch screen, each
// card's 推进 link does the same.
(function () {
  var board = document.getElementById("board");
  if (!board) { return; }
  var dragged = null;

  function columnOf(el) {
    return el && el.closest ? el.closest(".board-column") : null;
  }
  function accepts(column) {
    return Boolean(dragged && column &&
      Number(column.dataset.stageIndex) > Number(dragged.dataset.stageIndex));
  }
  function clear() {
    board.querySelectorAll(".board-drop-allowed, .board-drop-over").forEach(function (c) {
      c.classList.remove("board-drop-allowed", "board-drop-over");
    });
    if (dragged) { dragged.classList.remove("board-card-dragging"); }
    dragged = null;
  }

  board.addEventListener("dragstart", function (event) {
    var card = event.target.closest ? event.target.closest(".board-card[draggable=true]") : null;
    if (!card) { return; }
    dragged = card;
    card.classList.add("board-card-dragging");
    event.dataTransfer.effectAllowed = "move";
    // Some browsers start a drag only with data set.
    event.dataTransfer.setData("text/plain", card.dataset.projectId);
    board.querySelectorAll(".board-column").forEach(function (column) {
      if (accepts(column)) { column.classList.add("board-drop-allowed"); }
    });
  });
  board.addEventListener("dragover", function (event) {
    var column = columnOf(event.target);
    if (!accepts(column)) { return; }
    event.preventDefault();   // allow the drop here
    event.dataTransfer.dropEffect = "move";
    column.classList.add("board-drop-over");
  });
  board.addEventListener("dragleave", function (event) {
    var column = columnOf(event.target);
    if (column && !column.contains(event.relatedTarget)) {
      column.classList.remove("board-drop-over");
    }
  });
  board.addEventListener("drop", function (event) {
    var column = columnOf(event.target);
    if (!accepts(column)) { return; }
    event.preventDefault();
    var gate = new URL(dragged.dataset.gate, window.location.href);
    gate.searchParams.set("stage", column.dataset.stage);
    clear();
    window.location.assign(gate.toString());
  });
  board.addEventListener("dragend", clear);
})();
