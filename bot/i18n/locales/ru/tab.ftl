## Вкладка «Telegram» в карточке лида на портале. Тексты страницы — простой текст (страница
## их экранирует); тексты tab-message-* — HTML для Telegram.

tab-page-title = Telegram
tab-lead-heading = Лид №{ $id }: { $title }
tab-viewer = Вы — { $name } ({ $role ->
        [rep] { role-rep }
        [manager] { role-manager }
        [admin] { role-admin }
       *[other] { $role }
    }).

tab-responsible-heading = Ответственный в Telegram
tab-responsible-none = У лида нет ответственного.
tab-responsible-signed-in = Вошёл в бот
tab-responsible-signed-out = Не вошёл в бот
tab-notifications-on = Уведомления включены
tab-notifications-off = Уведомления выключены
tab-notifications-muted = Без звука до { $until }

tab-history-heading = Кому сообщили об этом лиде
tab-history-empty = Об этом лиде пока не сообщали ни в один чат.
tab-history-private = Личный чат: { $name }
tab-history-private-unknown = Личный чат
tab-history-group-unknown = Группа, которую бот не может прочитать
tab-kind-added = новый лид
tab-kind-changed = изменения
tab-kind-stage = стадия
tab-kind-deleted = удалён
tab-kind-reminder = напоминание
tab-kind-ping = просьба с портала
tab-kind-share = отправлено с портала
tab-kind-other = сообщение

tab-followups-heading = Дела
tab-followups-empty = По этому лиду нет дел.
tab-followup-for = для { $name }
tab-followup-scheduled = срок
tab-followup-sent = напомнили
tab-followup-done = выполнено
tab-followup-cancelled = отменено

tab-actions-heading = Сообщить в Telegram
tab-note-label = Заметка для ответственного (необязательно, до { $limit } символов)
tab-note-placeholder = Что нужно сделать?
tab-ping-button = Напомнить ответственному в Telegram
tab-ping-unavailable = Ответственный не вошёл в бот, поэтому бот не может ему написать.
tab-group-button = Отправить в группу команды
tab-group-targets = Куда: { $chat }
tab-group-unavailable = Уведомления об этом лиде не приходят ни в одну группу.

tab-done-ping = Отправлено в Telegram: { $name }.
tab-done-group = Отправлено: { $chat }.
tab-done-already = С этой страницы это уже отправлено. Откройте вкладку заново, чтобы отправить ещё раз.
tab-note-too-long = В заметке { $length } символов, а можно не больше { $limit }. Сократите её и отправьте снова.

tab-refused-title = Вкладка Telegram не открылась
tab-refused-auth = Портал не подтвердил, кто вы (сессия могла истечь). Обновите карточку лида и откройте вкладку снова.
tab-refused-portal = Вкладка открыта с портала, на котором бот не установлен.
tab-refused-request = Портал не передал вкладке лид. Откройте её из карточки лида.
tab-refused-unbound = Вы не вошли в бот в Telegram. Войдите в бот по рабочему телефону и откройте вкладку снова.
tab-refused-lead = Этот лид вам в боте не виден или его больше нет.
tab-refused-gone = Этого лида больше нет на портале.
tab-refused-expired = Страница устарела или форма отправлена не с неё. Откройте вкладку заново и повторите.
tab-refused-unavailable = Портал не ответил. Попробуйте через минуту.
tab-refused-busy = Бот сейчас не смог прочитать свои данные. Попробуйте через минуту.

tab-message-ping = 📌 <b>{ $name }</b> просит посмотреть этот лид (из вкладки Telegram на портале):
tab-message-share = 📣 <b>{ $name }</b> делится этим лидом с командой (из вкладки Telegram на портале):
tab-message-note = 💬 { $note }
