# Поиск лидов, «Мои лиды», карточка лида и действия с ней, инлайн-режим.
# $stage, $field и $value — простой текст с портала; $page и $pages — целые числа.

lead-label-last-name = Фамилия
lead-label-opportunity = Сумма
lead-label-contacts = Контакты
lead-label-products = Товары
lead-label-total = Итого


## /find

search-prompt = Пришлите, что искать: телефон или его первые цифры, e-mail, имя, компанию или название. Или номер лида, например <code>#123</code>.
search-too-short = Слишком коротко для поиска. Пришлите хотя бы две буквы или три цифры.
search-results =
    По запросу «{ $query }» { $count ->
        [one] найден { $count } лид
        [few] найдено { $count } лида
        [many] найдено { $count } лидов
       *[other] найдено { $count } лида
    }. Страница { $page } из { $pages }:
search-results-more = Показаны только самые новые; уточните запрос, чтобы увидеть остальные.
search-nothing = По запросу «{ $query }» ничего не нашлось. Телефоны ищутся по первым цифрам.
search-next-button = Дальше »
search-prev-button = « Назад
search-again-button = 🔍 Искать ещё


## Мои лиды

my-leads-title-mine = <b>Мои открытые лиды</b>
my-leads-title-user = <b>Открытые лиды: { $name }</b>
my-leads-title-all = <b>Открытые лиды всех сотрудников</b>
my-leads-stage =
    <b>{ $stage }</b>: { $count ->
        [one] { $count } лид
        [few] { $count } лида
        [many] { $count } лидов
       *[other] { $count } лида
    }
my-leads-none = Открытых лидов нет.
my-leads-responsible-button = 👤 Чьи лиды
my-leads-everyone-button = 👥 Все
my-leads-mine-button = 🙋 Мои
my-leads-choose-responsible = Чьи открытые лиды показать?


## Карточка лида

card-stage-button = 🔀 Стадия
card-edit-button = ✏️ Изменить
card-take-button = 🙋 Взять себе
card-note-button = 📝 Заметка
card-contacts-button = 👥 Контакты
card-products-button = 📦 Товары
card-followup-button = ⏰ Напомнить
card-delete-button = 🗑 Удалить
card-portal-button = 🔗 Открыть в Битрикс24
card-refresh-button = 🔄 Обновить
card-done = ✅ Сохранено.
card-choose-stage = Выберите новую стадию. Сейчас: <b>{ $stage }</b>
card-stage-reason = Почему лид переходит в стадию <b>{ $stage }</b>? Пришлите причину: она попадёт в ленту лида.
card-stage-reason-comment = Стадия изменена на «{ $stage }». Причина: { $reason }
card-stage-converted =
    <b>{ $stage }</b> — стадия успешного завершения.

    Битрикс24 не умеет конвертировать лид через API, поэтому здесь изменится только стадия: контакт, компания и сделка не создадутся. Если они нужны, сконвертируйте лид на портале.

    Перевести лид в стадию <b>{ $stage }</b>?
card-stage-converted-yes = ✅ Перевести
card-edit-choose = Что изменить?
card-edit-prompt =
    Пришлите новое значение поля <b>{ $field }</b>.
    Сейчас: { $value }
card-edit-empty = (пусто)
card-edit-source = Выберите источник. Сейчас: <b>{ $value }</b>
card-edit-multi = <b>{ $field }</b>: выберите значение, чтобы изменить или удалить его, или добавьте новое.
card-edit-multi-add-button = ➕ Добавить
card-edit-multi-chosen = <b>{ $field }</b>: { $value }
card-edit-multi-change-button = ✏️ Изменить
card-edit-multi-delete-button = 🗑 Удалить
card-edit-multi-prompt = Пришлите новое значение: <b>{ $field }</b>.
card-edit-bad-phone = Не получается прочитать номер телефона. Пришлите его с кодом страны, например +7 916 123-45-67.
card-edit-bad-email = Это не адрес эл. почты. Пришлите его в виде name@example.com.
card-edit-bad-number = Пришлите число, например 12500 или 12500,50.
card-edit-too-long =
    Слишком длинно: не больше { $count ->
        [one] { $count } символа
        [few] { $count } символов
        [many] { $count } символов
       *[other] { $count } символа
    }.
card-edit-gone = Этого значения у лида уже нет. Откройте карточку заново.
card-note-prompt = Пришлите заметку: текст, голосовое сообщение или фото. Она попадёт в ленту лида.
card-note-voice = Голосовое сообщение в Telegram, file id { $value }
card-note-photo = Фото в Telegram, file id { $value }
card-note-unsupported = Пришлите текст, голосовое сообщение или фото.
card-delete-confirm = Удалить лид <b>{ $name }</b>? Если корзина на портале выключена, он пропадёт навсегда.
card-delete-yes = 🗑 Да, удалить
card-deleted = 🗑 Лид <b>{ $name }</b> удалён.
card-managers-only = Это доступно только руководителям и администраторам.


## Инлайн-режим

inline-open-button = Открыть в боте
inline-nothing-button = Ничего не найдено: открыть бота

## Карточка: кто изменил, устаревшие карточки, отклонённые и повторные записи

# Добавляется к тому, что бот пишет в таймлайн лида; портал приписывает запись пользователю вебхука.
timeline-via-telegram = — через Telegram, { $name }
card-stale = ⚠️ Карточка устарела: лид тем временем передали другому или удалили, и доступа к нему у вас больше нет.
card-stale-gone = ⚠️ Карточка устарела: этого лида в портале больше нет.
card-edit-refused = Такое изменение из карточки сделать нельзя.
card-find-button = 🔍 Найти лид
write-in-progress = ⏳ Уже выполняется: дождитесь ответа на первое нажатие.

## Stale-lead nudges, at the start of the working day
# $count is an integer; $id, $title, $stage and $ago are plain text.

nudge-title = 🧹 <b>{ $count ->
        [one] { $count } лид ждёт вас
        [few] { $count } лида ждут вас
        [many] { $count } лидов ждут вас
       *[other] { $count } лида ждут вас
    }</b>
nudge-line-idle = 💤 #{ $id } { $title } — { $stage }, без активности { $ago }
nudge-line-first-stage = 🆕 #{ $id } { $title } — всё ещё «{ $stage }» спустя { $ago }
nudge-hours = { $count ->
        [one] { $count } час
        [few] { $count } часа
        [many] { $count } часов
       *[other] { $count } часа
    }
nudge-days = { $count ->
        [one] { $count } день
        [few] { $count } дня
        [many] { $count } дней
       *[other] { $count } дня
    }
nudge-more = …и ещё { $count }: все — в /my
nudge-follow-up-button = ⏰ Напомнить
nudge-stage-button = 🔀 Стадия
