# Admin tools: people and chats (chats with subscriptions, undelivered notifications).
# $chat, $name, $reason, $error, $lead and $when are plain text (escaped when put into HTML);
# $id, $thread, $count, $paused, $chats, $disabled, $dead, $page, $pages and $total are integers.

admin-people-button = 💬 People and chats
admin-people-title =
    <b>💬 People and chats</b>
    Chats that get lead notifications: { $chats } (disabled: { $disabled }).
    Undelivered notifications: { $dead }.
    Access, roles and invites: “Users with access” and “Pending invites”.
admin-people-chats-button = 🔔 Chats with subscriptions
admin-people-dead-button = 📮 Undelivered notifications
admin-people-chats-header =
    <b>🔔 Chats with subscriptions</b>
    🟢 active · ⏸ paused · ⛔ disabled. Press a chat for details.
admin-people-chats-empty = No chat has subscriptions yet.
admin-people-chat-line = { $chat } — { $count ->
    [one] 1 subscription
   *[other] { $count } subscriptions
}
admin-people-private-chat = private chat of { $name }
admin-people-unknown-chat = chat { $id }
admin-people-in-topic = { $chat }, topic { $thread }
admin-people-chat =
    <b>{ $chat }</b>
    Subscriptions: { $count }, paused: { $paused }.
admin-people-chat-disabled =
    ⛔ <b>Disabled:</b> the bot cannot write to this chat.
    Reason: <i>{ $reason }</i>
    Remove its subscriptions, or ask someone there to add or unblock the bot and subscribe again.
admin-people-chat-gone = This chat has no subscriptions any more.
admin-people-remove-button = 🧹 Remove the disabled subscriptions
admin-people-removed = { $count ->
    [one] 1 subscription removed.
   *[other] { $count } subscriptions removed.
}
admin-people-dead-header = <b>📮 Undelivered notifications</b> (page { $page } of { $pages }, { $total } in all)
admin-people-dead-empty = Nothing undelivered: every notification reached its chat.
admin-people-dead-line =
    <b>#{ $id }</b> · lead { $lead } · { $chat } · { $when }
    <i>{ $error }</i>
admin-people-resend-item = 🔁 Resend #{ $id }
admin-people-resend-all-button = 🔁 Resend all
admin-people-resent = Notification #{ $id } is back in the queue; the bot sends it again now.
admin-people-resend-gone = That notification is no longer undelivered.
admin-people-resent-all = { $count ->
    [one] 1 notification is back in the queue.
   *[other] { $count } notifications are back in the queue.
}
