# Инструменты администратора: люди и чаты (чаты с подписками, недоставленные уведомления).
# $chat, $name, $reason, $error, $lead и $when — простой текст (экранируется в HTML);
# $id, $thread, $count, $paused, $chats, $disabled, $dead, $page, $pages и $total — целые числа.

admin-people-button = 💬 Люди и чаты
admin-people-title =
    <b>💬 Люди и чаты</b>
    Чатов с уведомлениями о лидах: { $chats } (отключено: { $disabled }).
    Недоставленных уведомлений: { $dead }.
    Доступ, роли и приглашения: «Пользователи с доступом» и «Приглашения».
admin-people-chats-button = 🔔 Чаты с подписками
admin-people-dead-button = 📮 Недоставленные уведомления
admin-people-chats-header =
    <b>🔔 Чаты с подписками</b>
    🟢 активна · ⏸ на паузе · ⛔ отключена. Нажмите на чат, чтобы увидеть подробности.
admin-people-chats-empty = Подписок пока нет ни в одном чате.
admin-people-chat-line = { $chat } — { $count ->
    [one] { $count } подписка
    [few] { $count } подписки
    [many] { $count } подписок
   *[other] { $count } подписки
}
admin-people-private-chat = личный чат: { $name }
admin-people-unknown-chat = чат { $id }
admin-people-in-topic = { $chat }, тема { $thread }
admin-people-chat =
    <b>{ $chat }</b>
    Подписок: { $count }, на паузе: { $paused }.
admin-people-chat-disabled =
    ⛔ <b>Отключено:</b> бот не может писать в этот чат.
    Причина: <i>{ $reason }</i>
    Удалите подписки или попросите кого-нибудь из чата вернуть или разблокировать бота и подписаться снова.
admin-people-chat-gone = В этом чате больше нет подписок.
admin-people-remove-button = 🧹 Удалить отключённые подписки
admin-people-removed = { $count ->
    [one] Удалена { $count } подписка.
    [few] Удалены { $count } подписки.
    [many] Удалено { $count } подписок.
   *[other] Удалено { $count } подписки.
}
admin-people-dead-header = <b>📮 Недоставленные уведомления</b> (страница { $page } из { $pages }, всего { $total })
admin-people-dead-empty = Недоставленных нет: все уведомления дошли до своих чатов.
admin-people-dead-line =
    <b>#{ $id }</b> · лид { $lead } · { $chat } · { $when }
    <i>{ $error }</i>
admin-people-resend-item = 🔁 Отправить #{ $id } снова
admin-people-resend-all-button = 🔁 Отправить все снова
admin-people-resent = Уведомление #{ $id } снова в очереди; бот сейчас отправит его.
admin-people-resend-gone = Это уведомление уже не числится недоставленным.
admin-people-resent-all = { $count ->
    [one] { $count } уведомление снова в очереди.
    [few] { $count } уведомления снова в очереди.
    [many] { $count } уведомлений снова в очереди.
   *[other] { $count } уведомления снова в очереди.
}
