"""The password policy (OWASP ASVS 5.0 §6.2): long enough, not common or guessable, no
composition rules, so a long Chinese phrase is a good password.

Guessability is zxcvbn's estimate (common-password and word lists, keyboard patterns,
sequences, repeats, dates, the user's own name); a few passwords common in China that
its English-centred lists rank too low are added.
"""
from zxcvbn import zxcvbn

from crm.lifecycle import N_

MIN_LENGTH = 8
MAX_LENGTH = 200
# zxcvbn score 0–4: 0 and 1 are guessed within about a million tries.
MIN_SCORE = 2
# Frequent in Chinese password leaks (CSDN, 12306 analyses) and not in zxcvbn's lists.
COMMON_IN_CHINA = frozenset("""
woaini1314 woaini520 5201314520 5201314 1314520 woaini123 iloveyou1314 xiazhili
dearbook 147258369 789456123 123654789 110110110 31415926 12344321 159357456
qq123456 qq5201314 wangyu123 zhang123 liu123456 wang123456 zhangwei123 huang123
a123456789 123456789a aa123456 abc123456 123456abc 123qweasd 1qaz2wsx3edc
qwe123456 zxc123456 asd123456 admin123456 admin888 root123456 password123
zhaoshang zhaoshang123 zhaoshangju kaifaqu kaifaqu123
""".split())


def password_problem(password: str, user_inputs: list[str] = ()) -> str | None:
    """The policy's complaint about ``password`` (a message with the field name), or
    None when it is acceptable. ``user_inputs``: the user's name and username, which
    must not carry the password."""
    if len(password) < MIN_LENGTH:
        return N_("密码：至少 8 个字符（可以用汉字，建议用一句好记的话）")
    if len(password) > MAX_LENGTH:
        return N_("密码：不能超过 200 个字符")
    if password.lower() in COMMON_IN_CHINA or zxcvbn(
            password[:72], user_inputs=[u for u in user_inputs if u])["score"] < MIN_SCORE:
        return N_("密码：过于常见或容易猜到（如 12345678、password、键盘连排、用户名或姓名），"
                  "请换一个更长、不常见的密码，例如一句好记的中文")
    return None
