# Уведомления о лидах и подписки.
# $id — целое число; $title, $field, $old, $new, $stage, $source, $name, $kinds, $scope,
# $state, $filters и $values — простой текст (экранируется при вставке в HTML).

## Уведомление о лиде

notify-added = 🆕 <b>Новый лид #{ $id }: { $title }</b>
notify-changed = ✏️ <b>Лид #{ $id }: { $title }</b>
notify-deleted = 🗑 <b>Лид #{ $id } удалён: { $title }</b>
notify-change-line = { $field }: { $old } → { $new }
notify-line-stage = Стадия: { $stage }
notify-line-responsible = Ответственный: { $name }
notify-line-source = Источник: { $source }
notify-by = <i>изменил(а) { $name }</i>
notify-by-bot = <i>изменил(а) { $name } через бота</i>
notify-empty = —
notify-field-stage = Стадия
notify-field-responsible = Ответственный
notify-field-title = Название
notify-field-source = Источник
notify-field-amount = Сумма
notify-field-contact = Имя контакта
notify-field-company = Компания
notify-open-button = 📇 Карточка
notify-take-button = 🙋 Взять
notify-portal-button = 🌐 Открыть в портале
notify-mute-hour-button = 🔕 Без звука на 1 ч
notify-mute-today-button = 🔕 Без звука до конца дня
notify-unmute-button = 🔔 Включить уведомления
notify-mute-on = 🔕 Уведомлений здесь не будет до { $until }.
notify-mute-off = 🔔 Уведомления здесь снова включены.
notify-mute-refused = Выключить уведомления группы может только руководитель, личного чата — только его владелец.
notify-muted-line = 🔕 <i>Без уведомлений до { $until }.</i>

## Взять лид из уведомления

notify-taken = ✅ <b>Взял(а): { $name }</b>
notify-take-done = Теперь лид ваш.
notify-take-already = Уже взял(а): { $name }.
notify-take-refused = Этот лид взять нельзя: он закрыт или больше вам не виден.
notify-take-failed = Портал не принял изменение. Попробуйте через минуту.
notify-card-unavailable = Откройте карточку лида из меню: /menu

## Подписки

subs-title = <b>🔔 Подписки в этом чате</b>
subs-none = В этом чате пока нет подписок. Отправьте /subscribe, чтобы получать уведомления о лидах.
subs-item = <b>#{ $id }</b> · { $scope } · { $kinds } · { $state } · { $filters }
subs-created =
    ✅ Подписка оформлена (#{ $id }): { $scope } · { $kinds }.
    Кнопками можно изменить, о чём сообщать; /subscriptions — список всех подписок.
subs-card = <b>Подписка #{ $id }</b>
    Лиды: { $scope }
    События: { $kinds }
    Фильтры: { $filters }
    Состояние: { $state }
subs-removed = Подписка #{ $id } удалена.
subs-not-found = Такой подписки больше нет.
subs-refused-group-role = Подписать группу может только менеджер или администратор портала.
subs-refused-group-admin = Менять подписки группы может только её администратор.
subs-refused-not-yours = Это чужая подписка.
subs-preview-title = <b>Пример:</b> последние лиды, о которых сообщила бы эта подписка:
subs-preview-line = • #{ $id } { $title } — { $stage }
subs-preview-empty = <i>Пока ничего подходящего.</i>
subs-menu-text =
    <b>🔔 Подписки</b>
    Отправьте /subscribe здесь (или в группе, где вы администратор), чтобы получать уведомления о лидах, и /subscriptions, чтобы посмотреть и изменить подписки.
subs-scope-mine = мои лиды
subs-scope-all = все доступные мне лиды
subs-scope-users = выбранные ответственные
subs-kinds-all = все события
subs-kind-added = новые
subs-kind-changed = изменения
subs-kind-stage = смена стадии
subs-kind-deleted = удаление
subs-state-active = активна
subs-state-paused = на паузе
subs-state-disabled = отключена (бот не может писать в этот чат)
subs-pause-button = ⏸ Пауза
subs-resume-button = ▶️ Возобновить
subs-remove-button = 🗑 Удалить
subs-stages-button = 🎯 Стадии
subs-sources-button = 📥 Источники
subs-users-button = 👥 Ответственные
subs-any-stage-button = Любая стадия
subs-any-source-button = Любой источник
subs-done-button = ✔️ Готово
subs-filters-none = любая стадия и источник
subs-filter-stages = Стадии: { $values }
subs-filter-sources = Источники: { $values }
subs-filter-users = Ответственные: { $values }
subs-filter-users-none = Ответственные: пока никто не выбран (уведомлений не будет)
subs-pick-stages =
    <b>Подписка #{ $id }: стадии</b>
    Отметьте стадии, о которых хотите знать. Если ничего не отмечено — все стадии.
subs-pick-sources =
    <b>Подписка #{ $id }: источники</b>
    Отметьте источники лидов, о которых хотите знать. Если ничего не отмечено — все источники.
subs-pick-users =
    <b>Подписка #{ $id }: ответственные</b>
    Отметьте людей, о чьих лидах хотите знать.
subs-refused-users-scope = Выбирать ответственных могут только менеджеры и администраторы: торговый представитель получает уведомления о своих лидах.

## Take: checks of the pressed notification
notify-take-not-offered = Эта кнопка не относится к уведомлению об этом лиде.
notify-take-expired = Это уведомление слишком старое, из него лид не взять. Откройте карточку лида.
notify-take-unsubscribed = Этот чат больше не подписан, поэтому лиды из его уведомлений не взять.
notify-take-yours = Этот лид уже ваш.

## A lead the bot had not seen before it was deleted

notify-deleted-untitled = 🗑 <b>Лид #{ $id } удалён</b>
notify-deleted-unseen = <i>Бот не видел этот лид раньше, поэтому подробностей нет.</i>

## The digest of notifications held outside working hours
# $count, $leads, $fresh, $moved, $edited, $removed and $id are integers; $since, $icon and
# $title are plain text.

digest-title = 🌅 <b>Пока вы были не на работе: { $count ->
        [one] { $count } обновление
        [few] { $count } обновления
        [many] { $count } обновлений
       *[other] { $count } обновления
    } по { $leads ->
        [one] { $leads } лиду
        [few] { $leads } лидам
        [many] { $leads } лидам
       *[other] { $leads } лида
    }</b>
digest-since = Копилось с { $since }
digest-counts = 🆕 Новых: { $fresh } · 🔀 Сменили стадию: { $moved } · ✏️ Изменено: { $edited } · 🗑 Удалено: { $removed }
digest-top = Самое важное:
digest-line = { $icon } #{ $id } { $title }
digest-more = …и ещё { $count }
digest-portal-button = 🌐 Все в портале
