"""The default consent texts, in Russian: they are the owner's documents, shown to Russian recipients.

Not translated with the interface on purpose: the wording is evidence, and what was agreed to must read the same
whatever language the owner's page happens to be in. The owner replaces them on the wording page.
"""

from consents.models import Kind
from users.models import User

_DEFAULTS = {
    Kind.ADVERTISING: (
        "Я даю согласие {owner} на получение рекламных и информационных рассылок на указанный мной адрес "
        "электронной почты (статья 18 Федерального закона от 13.03.2006 № 38-ФЗ «О рекламе»). Согласие "
        "действует до его отзыва; отозвать его можно в любой момент по ссылке «Отписаться» в любом письме "
        "рассылки или ответив на письмо."
    ),
    Kind.PERSONAL_DATA: (
        "Я даю согласие {owner} на обработку моих персональных данных — адреса электронной почты и имени — "
        "с целью отправки мне рассылок: сбор, запись, хранение, уточнение, использование и удаление, с "
        "использованием средств автоматизации (Федеральный закон от 27.07.2006 № 152-ФЗ «О персональных "
        "данных»). Согласие действует до достижения цели обработки или до его отзыва; отозвать его можно, "
        "отписавшись от рассылки или написав {owner}."
    ),
}


def wording_default(kind: str, owner: User) -> str:
    """The default text of this kind, naming the owner (the operator of the data and the advertiser)."""
    name = owner.get_full_name() or owner.email
    return _DEFAULTS[Kind(kind)].format(owner=name)
