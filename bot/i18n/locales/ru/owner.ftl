## Спросить владельца: новый клиент представителя уже числится лидом коллеги.

owner-ask-label = 🙋 Попросить у { $owner }
owner-ask-prompt = Бот попросит <b>{ $owner }</b> передать вам этот лид; руководители тоже увидят запрос. Можно добавить заметку (почему клиент ваш, когда он звонил) или отправить запрос как есть.
owner-ask-send-button = 📨 Отправить без заметки
owner-ask-sent = 📨 Отправлено: { $owner } и руководителям. Ответ придёт сюда.
owner-ask-managers = 📨 { $owner } не пользуется ботом, поэтому запрос ушёл руководителям. Ответ придёт сюда.
owner-ask-already = Вы уже спросили об этом лиде; ответ придёт сюда.
owner-ask-yours = Этот лид теперь ваш: откройте его через поиск.
owner-ask-nobody = Ни владельца, ни руководителей нет в боте, поэтому запрос некому отправить. Спросите их лично или через портал.
owner-ask-gone = Этого лида больше нет на портале.
owner-ask-failed = Портал не ответил, запрос не отправлен. Попробуйте через минуту.

owner-request-to-owner = 🙋 Запрос от <b>{ $asker }</b>: передать ваш лид <b>{ $title }</b>. Клиент сам обратился к этому сотруднику.
owner-request-to-manager = 🙋 Запрос от <b>{ $asker }</b>: передать лид <b>{ $title }</b> (ответственный: { $owner }). Клиент сам обратился к этому сотруднику.
owner-request-nobody = никто
owner-request-client = Клиент: { $client }
owner-request-note = Заметка: { $note }
owner-request-hand-over-button = ✅ Передать лид
owner-request-answer-button = 💬 Ответить
owner-request-handed = ✅ Передан: { $name }.
owner-request-already = Этот запрос уже решён.
owner-request-refused = Это может сделать только ответственный за лид или руководитель.
owner-request-gone = Этого лида или запроса больше нет.
owner-request-failed = Портал не ответил, ничего не изменилось. Попробуйте через минуту.
owner-request-answered = 💬 Ваш ответ отправлен: { $name }.
owner-request-handed-to-you = ✅ Лид <b>{ $title }</b> теперь ваш (передан от: <b>{ $name }</b>).
owner-request-answer-to-you = 💬 <b>{ $name }</b> о лиде <b>{ $title }</b>:
    { $text }
owner-answer-prompt = Отправьте ответ для <b>{ $name }</b> одним сообщением.
owner-answer-empty = Отправьте ответ текстом.
