# Контакты, привязанные к лиду.
# $name, $phone, $email и $title — тексты из портала; $id и $count — целые числа.

contacts-title = <b>Контакты лида №{ NUMBER($id, useGrouping: 0) }</b> { $title }
contacts-none = К этому лиду пока не привязан ни один контакт.
contacts-line = • { $name } · { $phone }
contacts-line-no-phone = • { $name }
contacts-primary-line = ⭐ <b>{ $name }</b> · { $phone } — основной
contacts-primary-line-no-phone = ⭐ <b>{ $name }</b> — основной
contacts-hint = Нажмите на контакт, чтобы сделать его основным или отвязать.
contacts-unnamed = Контакт №{ NUMBER($id, useGrouping: 0) }
contacts-value-none = —
contacts-link-button = 🔗 Привязать контакт
contacts-create-button = ➕ Создать из лида

contacts-contact-title = <b>{ $name }</b>
contacts-contact-primary = ⭐ Это основной контакт лида.
contacts-make-primary-button = ⭐ Сделать основным
contacts-unlink-button = ✂️ Отвязать от лида

contacts-search-prompt = Пришлите телефон или e-mail контакта, или часть его имени или фамилии.
contacts-search-too-short = Слишком коротко для поиска: пришлите хотя бы три символа.
contacts-search-too-long = Слишком длинно для поиска: не больше { $count } символов.
contacts-search-bad-phone = Не получается прочитать это как номер телефона. Пришлите его с кодом страны, например +7 916 123-45-67.
contacts-search-not-text = Пришлите телефон или имя текстом.
contacts-found =
    { $count ->
        [one] Нашёлся { $count } контакт
        [few] Нашлось { $count } контакта
        [many] Нашлось { $count } контактов
       *[other] Нашлось { $count } контакта
    } по запросу «{ $query }». Нажмите на нужный, чтобы привязать:
contacts-found-nothing = По запросу «{ $query }» контактов нет. Попробуйте написать иначе или создайте контакт из лида.
contacts-search-again-button = 🔍 Искать ещё

contacts-create-confirm =
    Создать контакт из данных лида и привязать его?
    Имя: { $name }
    Телефон: { $phone }
    E-mail: { $email }
contacts-create-yes-button = ✅ Создать и привязать
contacts-nothing-to-copy = В лиде нет ни имени, ни телефона, ни e-mail, чтобы создать из них контакт. Заполните их в лиде или привяжите существующий контакт.

contacts-linked = ✅ { $name } привязан(а) к лиду.
contacts-already-linked = { $name } уже был(а) привязан(а) к лиду.
contacts-unlinked = ✅ { $name } больше не привязан(а) к лиду.
contacts-not-linked = { $name } уже не привязан(а) к этому лиду; вот текущий список.
contacts-primary-set = ⭐ { $name } теперь основной контакт.
contacts-created = ✅ Контакт создан из данных лида и привязан.
contacts-contact-gone = Этого контакта больше нет в портале.

## Ограничения поиска контактов для менеджеров по продажам

contacts-search-rep-hint = По имени находятся контакты лидов, которые вам видны; любой другой контакт — только по точному телефону или e-mail.
