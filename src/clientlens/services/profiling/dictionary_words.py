"""The dictionary's own words (headings, column names, sentences) in English, Russian
and Bulgarian.

The definitions' texts (labels, descriptions) come from the definitions and their
``translations/``; these are the document's. Keys, not English sentences, name them,
so an English wording can change without losing its translations; ``{name}``
placeholders are filled with ``str.format`` in the templates. They travel in the
dictionary's context (``words``), not as a template function, so any Jinja
environment that includes the body partial (the CLI's, the console's) renders it.
"""

from __future__ import annotations

MESSAGES: dict[str, dict[str, str]] = {
    "title": {"en": "Dictionary of terms: {name}",
              "ru": "Словарь терминов: {name}",
              "bg": "Речник на термините: {name}"},
    "version": {"en": "Rulebook version", "ru": "Версия правил",
                "bg": "Версия на правилата"},
    "intro.md": {
        "en": "Every customer gets exactly one segment: the rules below are tried in order and\n"
              "the first whose conditions all hold wins; a customer no rule matches gets the\n"
              "default segment. Conditions use only the terms and parameters defined here.",
        "ru": "Каждый клиент попадает ровно в один сегмент: правила ниже проверяются по порядку,\n"
              "и срабатывает первое, все условия которого выполнены; клиент, не подошедший ни\n"
              "под одно правило, получает сегмент по умолчанию. Условия используют только\n"
              "определённые здесь термины и параметры.",
        "bg": "Всеки клиент попада в точно един сегмент: правилата по-долу се проверяват\n"
              "поред и печели първото, чиито условия са изпълнени; клиент, за когото не важи\n"
              "нито едно правило, получава сегмента по подразбиране. Условията използват само\n"
              "определените тук термини и параметри."},
    "intro.html": {
        "en": "Every customer gets exactly one segment: the rules are tried in order and the "
              "first whose\nconditions all hold wins; a customer no rule matches gets the "
              "default segment.",
        "ru": "Каждый клиент попадает ровно в один сегмент: правила проверяются по порядку, "
              "и срабатывает\nпервое, все условия которого выполнены; клиент, не подошедший "
              "ни под одно правило, получает сегмент по умолчанию.",
        "bg": "Всеки клиент попада в точно един сегмент: правилата се проверяват поред и "
              "печели първото,\nчиито условия са изпълнени; клиент, за когото не важи нито "
              "едно правило, получава сегмента по подразбиране."},
    "untranslated": {"en": "not translated yet", "ru": "ещё не переведено",
                     "bg": "още не е преведено"},
    "untranslated.note": {
        "en": "{count} texts marked [en] have no translation yet and are shown in English.",
        "ru": "Текстов без перевода: {count}; они отмечены [en] и приведены на английском.",
        "bg": "Текстове без превод: {count}; отбелязани са с [en] и са дадени на английски."},
    "population": {"en": "Who is segmented:", "ru": "Кто сегментируется:",
                   "bg": "Кой се сегментира:"},
    "contents": {"en": "Contents", "ru": "Содержание", "bg": "Съдържание"},
    "rules": {"en": "Segmentation rules", "ru": "Правила сегментации",
              "bg": "Правила за сегментиране"},
    "needs": {"en": "Needs", "ru": "Потребности", "bg": "Потребности"},
    "needs.intro": {
        "en": "Each customer's main need, inferred from behaviour: the rules are tried in "
              "order, the\nfirst whose conditions all hold gives the need; the conditions "
              "that held are its evidence.",
        "ru": "Главная потребность клиента, выведенная из его поведения: правила проверяются "
              "по порядку,\nпервое, все условия которого выполнены, даёт потребность; "
              "выполненные условия служат её обоснованием.",
        "bg": "Основната потребност на клиента, изведена от поведението му: правилата се "
              "проверяват поред,\nпървото, чиито условия са изпълнени, дава потребността; "
              "изпълнените условия са нейното основание."},
    "phases": {"en": "Relationship phases", "ru": "Фазы отношений с клиентом",
               "bg": "Фази на отношенията с клиента"},
    "phases.intro": {
        "en": "Where each customer is in the relationship lifecycle: the rules are tried in "
              "order, the\nfirst whose conditions all hold gives the phase. Each phase lists "
              "the bank's recommended\nactions, due within the days given of the customer "
              "entering the phase.",
        "ru": "Где находится каждый клиент в жизненном цикле отношений: правила проверяются "
              "по порядку,\nпервое, все условия которого выполнены, даёт фазу. Для каждой "
              "фазы указаны рекомендуемые\nбанком действия и срок в днях с момента перехода "
              "клиента в фазу.",
        "bg": "Къде се намира всеки клиент в жизнения цикъл на отношенията: правилата се "
              "проверяват поред,\nпървото, чиито условия са изпълнени, дава фазата. За всяка "
              "фаза са посочени препоръчаните\nот банката действия и срокът в дни от "
              "влизането на клиента във фазата."},
    "within": {"en": "within {days} days", "ru": "в течение {days} дн.",
               "bg": "в рамките на {days} дни"},
    "rating": {"en": "Rating", "ru": "Рейтинг", "bg": "Рейтинг"},
    "score": {"en": "Score: {base} base points plus each factor's points, held between "
                    "{low} and {high}. Grades:",
              "ru": "Балл: {base} базовых баллов плюс баллы каждого фактора, в пределах от "
                    "{low} до {high}. Оценки:",
              "bg": "Резултат: {base} базови точки плюс точките на всеки фактор, в границите "
                    "от {low} до {high}. Оценки:"},
    "grade.from": {"en": "{grade} from {points}", "ru": "{grade} от {points}",
                   "bg": "{grade} от {points}"},
    "requires": {"en": "Given only when", "ru": "Выставляется, только если",
                 "bg": "Поставя се само когато"},
    "otherwise": {"en": "otherwise \"insufficient data\"",
                  "ru": "иначе «недостаточно данных»",
                  "bg": "иначе „недостатъчно данни“"},
    "bin.any": {"en": "any value", "ru": "любое значение", "bg": "всяка стойност"},
    "bin.range": {"en": "{low} to < {high}", "ru": "от {low} до < {high}",
                  "bg": "от {low} до < {high}"},
    "bin.no_case": {"en": "none of the cases", "ru": "ни один из случаев",
                    "bg": "нито един от случаите"},
    "bin.other": {"en": "any other value", "ru": "любое другое значение",
                  "bg": "всяка друга стойност"},
    "bin.empty": {"en": "empty", "ru": "пусто", "bg": "празно"},
    "default.rule": {"en": "no rule above matched", "ru": "ни одно правило выше не подошло",
                     "bg": "нито едно правило по-горе не е изпълнено"},
    "default.need": {"en": "no need rule above matched",
                     "ru": "ни одно правило потребности выше не подошло",
                     "bg": "нито едно правило за потребност по-горе не е изпълнено"},
    "default.phase": {"en": "no phase rule above matched",
                      "ru": "ни одно правило фазы выше не подошло",
                      "bg": "нито едно правило за фаза по-горе не е изпълнено"},
    "products": {"en": "Products", "ru": "Продукты", "bg": "Продукти"},
    "products.intro": {
        "en": "In the bank's order of priority. The next-best product is the first that "
              "serves the\ncustomer's need, that they may have and do not hold.",
        "ru": "В порядке приоритета банка. Следующий лучший продукт — первый, который "
              "отвечает\nпотребности клиента, доступен ему и ещё не оформлен.",
        "bg": "По реда на приоритет на банката. Следващият най-подходящ продукт е първият, "
              "който отговаря\nна потребността на клиента, достъпен е за него и той още "
              "не го ползва."},
    "services": {"en": "Services, benefits and loyalty levels",
                 "ru": "Услуги, привилегии и уровни лояльности",
                 "bg": "Услуги, привилегии и нива на лоялност"},
    "parameters": {"en": "Parameters", "ru": "Параметры", "bg": "Параметри"},
    "terms": {"en": "Terms", "ru": "Термины", "bg": "Термини"},
    "derived": {"en": "Derived columns of the source tables",
                "ru": "Производные столбцы исходных таблиц",
                "bg": "Производни колони на изходните таблици"},
    "group.customer": {"en": "The customer", "ru": "Клиент", "bg": "Клиентът"},
    "group.accounts": {"en": "Product load: accounts", "ru": "Продуктовая загрузка: счета",
                       "bg": "Продуктово натоварване: сметки"},
    "group.transactions": {"en": "Activity: transactions", "ru": "Активность: операции",
                           "bg": "Активност: операции"},
    "group.interactions": {"en": "Contacts: access channels",
                           "ru": "Контакты: каналы обслуживания",
                           "bg": "Контакти: канали за обслужване"},
    "group.security_events": {"en": "Security: flags, fraud alerts, overdue",
                              "ru": "Безопасность: отметки, сигналы о мошенничестве, "
                                    "просрочки",
                              "bg": "Сигурност: отметки, сигнали за измама, просрочия"},
    "group.surveys": {"en": "What customers told us: surveys",
                      "ru": "Что говорят клиенты: опросы",
                      "bg": "Какво казват клиентите: анкети"},
    "group.referrals": {"en": "Advocacy: referrals", "ru": "Рекомендации: приведённые клиенты",
                        "bg": "Препоръки: доведени клиенти"},
    "group.programme_referrals": {"en": "Advocacy: the member-get-member programme",
                                  "ru": "Рекомендации: программа «приведи друга»",
                                  "bg": "Препоръки: програмата „доведи приятел“"},
    "group.recovery_cases": {"en": "Service recovery: cases",
                             "ru": "Восстановление сервиса: обращения",
                             "bg": "Възстановяване на обслужването: случаи"},
    "group.departures": {"en": "Departures: exit reasons", "ru": "Уходы: причины ухода",
                         "bg": "Напускания: причини за напускане"},
    "group.expression": {"en": "Derived terms", "ru": "Производные термины",
                         "bg": "Производни термини"},
    "col.segment": {"en": "segment", "ru": "сегмент", "bg": "сегмент"},
    "col.need": {"en": "need", "ru": "потребность", "bg": "потребност"},
    "col.phase": {"en": "phase", "ru": "фаза", "bg": "фаза"},
    "col.labels": {"en": "labels", "ru": "названия", "bg": "наименования"},
    "col.conditions": {"en": "conditions (all must hold)",
                       "ru": "условия (должны выполняться все)",
                       "bg": "условия (трябва да са изпълнени всички)"},
    "col.description": {"en": "description", "ru": "описание", "bg": "описание"},
    "col.actions": {"en": "actions", "ru": "действия", "bg": "действия"},
    "col.recommended": {"en": "recommended actions", "ru": "рекомендуемые действия",
                        "bg": "препоръчани действия"},
    "col.factor": {"en": "factor", "ru": "фактор", "bg": "фактор"},
    "col.bin": {"en": "bin or case", "ru": "интервал или случай", "bg": "интервал или случай"},
    "col.points": {"en": "points", "ru": "баллы", "bg": "точки"},
    "col.neutral": {"en": "neutral", "ru": "нейтрально", "bg": "неутрално"},
    "col.product": {"en": "product", "ru": "продукт", "bg": "продукт"},
    "col.department": {"en": "department", "ru": "подразделение", "bg": "звено"},
    "col.held": {"en": "held when (open account)", "ru": "есть у клиента, если (открытый счёт)",
                 "bg": "клиентът го има, когато (открита сметка)"},
    "col.held.short": {"en": "held when", "ru": "есть у клиента, если",
                       "bg": "клиентът го има, когато"},
    "col.eligible": {"en": "eligible when", "ru": "доступен, если", "bg": "достъпен, когато"},
    "col.lead": {"en": "lead when", "ru": "лид, если", "bg": "потенциална продажба, когато"},
    "col.service": {"en": "service", "ru": "услуга", "bg": "услуга"},
    "col.kind": {"en": "kind", "ru": "вид", "bg": "вид"},
    "col.granted": {"en": "granted when", "ru": "предоставляется, если",
                    "bg": "предоставя се, когато"},
    "col.grace": {"en": "grace days", "ru": "льготных дней", "bg": "гратисни дни"},
    "col.name": {"en": "name", "ru": "имя", "bg": "име"},
    "col.value": {"en": "value", "ru": "значение", "bg": "стойност"},
    "col.unit": {"en": "unit", "ru": "единица", "bg": "единица"},
    "col.term": {"en": "term", "ru": "термин", "bg": "термин"},
    "col.type": {"en": "type", "ru": "тип", "bg": "тип"},
    "col.type_unit": {"en": "type, unit", "ru": "тип, единица", "bg": "тип, единица"},
    "col.definition": {"en": "definition", "ru": "определение", "bg": "дефиниция"},
    "col.used_by": {"en": "used by", "ru": "где используется", "bg": "къде се използва"},
    "col.table": {"en": "table", "ru": "таблица", "bg": "таблица"},
    "col.column": {"en": "column", "ru": "столбец", "bg": "колона"},
    # "used by": what kind of definition reads a term
    "user.segment": {"en": "segment", "ru": "сегмент", "bg": "сегмент"},
    "user.need": {"en": "need", "ru": "потребность", "bg": "потребност"},
    "user.phase": {"en": "phase", "ru": "фаза", "bg": "фаза"},
    "user.rating": {"en": "rating", "ru": "рейтинг", "bg": "рейтинг"},
    "user.product": {"en": "product", "ru": "продукт", "bg": "продукт"},
    "user.service": {"en": "service", "ru": "услуга", "bg": "услуга"},
    "user.population": {"en": "population", "ru": "охват", "bg": "обхват"},
    "user.term": {"en": "term", "ru": "термин", "bg": "термин"},
}


def words(lang: str) -> dict[str, str]:
    """Every word in ``lang`` (English for an unknown language or a missing one)."""
    return {key: texts.get(lang) or texts["en"] for key, texts in MESSAGES.items()}
