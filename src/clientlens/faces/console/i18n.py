"""The console's words in English, Russian and Bulgarian.

Labels of segments, terms, phases, needs, ratings and actions come from the
definitions (every one has labels in the three languages); this table holds the
console's own words. A missing key is a bug the tests catch (every key has all three
languages), never an English word on a Russian page.
"""

from __future__ import annotations

from collections.abc import Mapping

LANGUAGES = ("en", "ru", "bg")
LANGUAGE_NAMES = {"en": "English", "ru": "Русский", "bg": "Български"}

# key: (English, Russian, Bulgarian)
_WORDS: dict[str, tuple[str, str, str]] = {
    "app": ("clientlens console", "Консоль clientlens", "Конзола clientlens"),
    "skip": ("Skip to content", "Перейти к содержимому", "Към съдържанието"),
    "nav": ("Main navigation", "Основное меню", "Основно меню"),
    "overview": ("Overview", "Обзор", "Преглед"),
    "migrations": ("Migrations", "Миграции", "Миграции"),
    "customers": ("Customer 360", "Клиент 360", "Клиент 360"),
    "lists": ("Work lists", "Рабочие списки", "Работни списъци"),
    "referrals": ("Member-get-member", "Приведи друга", "Доведи приятел"),
    "dictionary": ("Dictionary and rules", "Словарь и правила", "Речник и правила"),
    "sign_in": ("Sign in", "Войти", "Вход"),
    "sign_out": ("Sign out", "Выйти", "Изход"),
    "sign_in_sso": ("Sign in with the bank's account", "Войти через учётную запись банка",
                    "Вход с акаунта на банката"),
    "user_name": ("User name", "Имя пользователя", "Потребителско име"),
    "password": ("Password", "Пароль", "Парола"),
    "bad_login": ("Wrong user name or password, or the user is locked or disabled.",
                  "Неверное имя пользователя или пароль, либо пользователь заблокирован.",
                  "Грешно потребителско име или парола, или потребителят е блокиран."),
    "signed_in_as": ("Signed in as", "Вы вошли как", "Влезли сте като"),
    "role": ("Role", "Роль", "Роля"),
    "language": ("Language", "Язык", "Език"),
    "as_of": ("As of", "На дату", "Към дата"),
    "no_snapshot": ("No run yet: run `clientlens run` first.",
                    "Расчётов ещё не было: сначала выполните `clientlens run`.",
                    "Още няма изчисления: първо изпълнете `clientlens run`."),
    "segments": ("Segments", "Сегменты", "Сегменти"),
    "segment": ("Segment", "Сегмент", "Сегмент"),
    "customers_n": ("Customers", "Клиенты", "Клиенти"),
    "share": ("Share", "Доля", "Дял"),
    "mean_balance": ("Mean balance", "Средний остаток", "Среден салдо"),
    "trend": ("Segment sizes over stored runs", "Размер сегментов по расчётам",
              "Размер на сегментите по изчисления"),
    "phases": ("Relationship phases", "Фазы отношений", "Фази на отношенията"),
    "phase": ("Phase", "Фаза", "Фаза"),
    "needs": ("Needs", "Потребности", "Потребности"),
    "need": ("Need", "Потребность", "Потребност"),
    "grades": ("Rating grades", "Классы рейтингов", "Класове на рейтингите"),
    "grade": ("Grade", "Класс", "Клас"),
    "rating": ("Rating", "Рейтинг", "Рейтинг"),
    "runs": ("Last runs", "Последние расчёты", "Последни изчисления"),
    "imports": ("Last imports", "Последние загрузки", "Последни зареждания"),
    "run_id": ("Run", "Расчёт", "Изчисление"),
    "status": ("Status", "Статус", "Статус"),
    "requested_by": ("Requested by", "Кем запущен", "Стартирано от"),
    "finished": ("Finished", "Завершён", "Завършено"),
    "file": ("File", "Файл", "Файл"),
    "table": ("Table", "Таблица", "Таблица"),
    "rows_read": ("Read", "Прочитано", "Прочетени"),
    "rows_loaded": ("Loaded", "Загружено", "Заредени"),
    "quarantined": ("Quarantined", "В карантине", "В карантина"),
    "imported_at": ("Imported", "Загружен", "Зареден"),
    "reasons": ("Reasons", "Причины", "Причини"),
    "reason": ("Reason", "Причина", "Причина"),
    "count": ("Count", "Количество", "Брой"),
    "show_reasons": ("Show reasons", "Показать причины", "Покажи причините"),
    "none": ("None", "Нет", "Няма"),
    "from": ("From", "С", "От"),
    "to": ("To", "По", "До"),
    "by": ("By", "По признаку", "По признак"),
    "show": ("Show", "Показать", "Покажи"),
    "sankey": ("Flows between the two dates", "Потоки между двумя датами",
               "Потоци между двете дати"),
    "heatmap": ("Migration matrix", "Матрица миграций", "Матрица на миграциите"),
    "stayed": ("Stayed", "Остались", "Останали"),
    "moved": ("Customers who moved", "Клиенты, сменившие группу", "Клиенти, сменили групата"),
    "moved_hint": ("Click a flow or a cell to list its customers.",
                   "Нажмите на поток или ячейку, чтобы увидеть клиентов.",
                   "Щракнете върху поток или клетка, за да видите клиентите."),
    "why": ("Why", "Почему", "Защо"),
    "new_customer": ("(new)", "(новый)", "(нов)"),
    "gone": ("(gone)", "(ушёл)", "(напуснал)"),
    "search": ("Search", "Поиск", "Търсене"),
    "search_hint": ("Customer id", "Номер клиента", "Номер на клиента"),
    "search_hint_name": ("Customer id or name", "Номер или имя клиента",
                         "Номер или име на клиента"),
    "name": ("Name", "Имя", "Име"),
    "customer": ("Customer", "Клиент", "Клиент"),
    "explanation": ("Why this segment", "Почему этот сегмент", "Защо този сегмент"),
    "matched_rule": ("Matched rule", "Сработавшее правило", "Сработило правило"),
    "missing_for": ("What is missing for", "Чего не хватает для", "Какво липсва за"),
    "condition": ("Condition", "Условие", "Условие"),
    "holds": ("Holds", "Выполнено", "Изпълнено"),
    "values": ("Values", "Значения", "Стойности"),
    "yes": ("yes", "да", "да"),
    "no": ("no", "нет", "не"),
    "unknown": ("unknown", "неизвестно", "неизвестно"),
    "ratings": ("Ratings", "Рейтинги", "Рейтинги"),
    "score": ("Score", "Балл", "Точки"),
    "products": ("Products held", "Продукты клиента", "Продукти на клиента"),
    "product": ("Product", "Продукт", "Продукт"),
    "opened_on": ("Opened", "Открыт", "Открит"),
    "balance": ("Balance", "Остаток", "Салдо"),
    "next_best": ("Next-best product", "Следующий лучший продукт", "Следващ най-добър продукт"),
    "entitlements": ("Entitlements", "Привилегии", "Привилегии"),
    "service": ("Service", "Услуга", "Услуга"),
    "granted_on": ("Granted", "Предоставлена", "Предоставена"),
    "kept_until": ("Kept until (grace)", "Сохраняется до (льготный период)",
                   "Запазва се до (гратисен период)"),
    "actions": ("Recommended actions", "Рекомендуемые действия", "Препоръчани действия"),
    "action": ("Action", "Действие", "Действие"),
    "department": ("Department", "Подразделение", "Отдел"),
    "due": ("Due", "Срок", "Срок"),
    "timeline": ("Timeline", "История", "История"),
    "since": ("Since", "С", "От"),
    "until": ("Until", "По", "До"),
    "cases": ("Service-recovery cases", "Случаи восстановления сервиса",
              "Случаи за възстановяване на обслужването"),
    "category": ("Category", "Категория", "Категория"),
    "opened": ("Opened", "Открыт", "Отворен"),
    "points": ("Points", "Баллы", "Точки"),
    "registrations": ("Referrals", "Рекомендации", "Препоръки"),
    "interactions": ("Interactions by channel", "Контакты по каналам",
                     "Контакти по канали"),
    "channel": ("Channel", "Канал", "Канал"),
    "last_contact": ("Last contact", "Последний контакт", "Последен контакт"),
    "reevaluate": ("Re-evaluate now", "Пересчитать сейчас", "Преизчисли сега"),
    "reevaluated": ("Re-evaluated", "Пересчитано", "Преизчислено"),
    "withheld": ("Withheld for your role", "Скрыто для вашей роли", "Скрито за вашата роля"),
    "visible_to": ("visible to", "видно ролям", "видимо за"),
    "personal": ("Personal data", "Персональные данные", "Лични данни"),
    "leads": ("Leads", "Лиды", "Потенциални продажби"),
    "actions_due": ("Actions due", "Действия к выполнению", "Действия за изпълнение"),
    "overdue_only": ("Overdue only", "Только просроченные", "Само просрочените"),
    "win_back": ("Win-back", "Возврат клиентов", "Връщане на клиенти"),
    "survey_due": ("Survey due", "Нужен опрос", "Нужна анкета"),
    "all_departments": ("All departments", "Все подразделения", "Всички отдели"),
    "export_csv": ("Export CSV", "Выгрузить CSV", "Изтегли CSV"),
    "export_xlsx": ("Export Excel", "Выгрузить Excel", "Изтегли Excel"),
    "page": ("Page", "Страница", "Страница"),
    "of": ("of", "из", "от"),
    "prev": ("Previous", "Назад", "Назад"),
    "next": ("Next", "Вперёд", "Напред"),
    "rows": ("rows", "строк", "реда"),
    "programmes": ("Programmes", "Программы", "Програми"),
    "programme": ("Programme", "Программа", "Програма"),
    "funnel": ("Funnel", "Воронка", "Фуния"),
    "top_advocates": ("Top advocates", "Лучшие адвокаты бренда", "Най-добри посланици"),
    "refused_registrations": ("Refused registrations by reason",
                              "Отклонённые регистрации по причинам",
                              "Отказани регистрации по причини"),
    "version": ("Version", "Версия", "Версия"),
    "valid": ("Valid", "Действует", "Валидна"),
    "rulebook": ("Rules in order", "Правила по порядку", "Правила по ред"),
    "terms": ("Terms", "Термины", "Термини"),
    "error": ("Something is wrong with this request", "Запрос содержит ошибку",
              "Заявката съдържа грешка"),
    "not_found": ("Not found", "Не найдено", "Не е намерено"),
    "forbidden": ("Your role may not open this page.", "Вашей роли эта страница недоступна.",
                  "Вашата роля няма достъп до тази страница."),
    "refused": ("Request refused", "Запрос отклонён", "Заявката е отказана"),
    "back": ("Back to the overview", "Вернуться к обзору", "Обратно към прегледа"),
    "chart_table": ("The same figures as a table", "Те же данные в таблице",
                    "Същите данни в таблица"),
    "loading": ("Loading…", "Загрузка…", "Зареждане…"),
}


def words(lang: str) -> Mapping[str, str]:
    """The console's words in ``lang`` (English for an unknown language)."""
    i = LANGUAGES.index(lang) if lang in LANGUAGES else 0
    return {k: v[i] for k, v in _WORDS.items()}


def all_keys() -> dict[str, tuple[str, str, str]]:
    return dict(_WORDS)


def pick(requested: str | None, cookie: str | None, accept: str | None) -> str:
    """The page's language: ?lang=, then the cookie, then the browser's first
    supported Accept-Language, then English."""
    for candidate in (requested, cookie):
        if candidate in LANGUAGES:
            return candidate  # type: ignore[return-value]
    for part in (accept or "").split(","):
        code = part.split(";")[0].strip().lower()[:2]
        if code in LANGUAGES:
            return code
    return "en"
