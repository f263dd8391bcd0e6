# Создание лида: пошаговая форма, проверка дублей, создание.
#
# $field — название поля, как его называет портал; $value — ответ; $step, $total, $limit и
# $length — целые числа; $title — название лида; $stage — стадия; $owner — сотрудник;
# $age — давность («3 дня назад»); $link — ссылка.


## Форма

capture-step = <i>Новый лид · шаг { $step } из { $total }</i>
capture-question = <b>{ $field }</b>
capture-question-required = <b>{ $field }</b> (обязательно)
capture-current-value = Сейчас: { $value }
capture-hint-string = Отправьте текст.
capture-hint-text = Отправьте текст (можно в несколько строк).
capture-hint-integer = Отправьте целое число, например 12.
capture-hint-number = Отправьте число, например 12,5.
capture-hint-money = Отправьте сумму, например 15000 или 15 000,50.
capture-hint-date = Выберите дату ниже или отправьте её как 31.12.2025.
capture-hint-yes_no = Выберите «да» или «нет».
capture-hint-choice = Выберите один из вариантов ниже.
capture-hint-phone = Отправьте номер телефона, например +7 916 123 45 67 или 8 (916) 123-45-67.
capture-hint-email = Отправьте адрес e-mail, например anna@example.com.
capture-yes-button = ✅ Да
capture-no-button = ❌ Нет
capture-skip-button = ⏭ Пропустить
capture-clear-button = 🗑 Оставить пустым
capture-to-summary-button = « К сводке

## Почему ответ не принят (после — вопрос снова)

capture-error-empty = ⚠️ Пусто. Отправьте, пожалуйста, текст.
capture-error-too-long =
    ⚠️ Слишком длинно: { $length ->
        [one] { $length } символ
        [few] { $length } символа
        [many] { $length } символов
       *[other] { $length } символа
    }, а это поле вмещает не больше { $limit }. Отправьте текст покороче.
capture-error-phone = ⚠️ Это не похоже на номер телефона. Отправьте его так: 8 (916) 123-45-67 или +7 916 123 45 67.
capture-error-email = ⚠️ Это не похоже на адрес e-mail. Отправьте его так: anna@example.com.
capture-error-integer = ⚠️ Это не целое число. Отправьте только цифры, например 12.
capture-error-number = ⚠️ Это не число. Отправьте его так: 12,5 или 12.5.
capture-error-money = ⚠️ Это не сумма. Отправьте её так: 15000 или 15 000,50 (без минуса и валюты).
capture-error-date = ⚠️ Это не дата. Выберите её ниже или отправьте так: 31.12.2025.
capture-error-choice = ⚠️ Такого варианта нет. Выберите одну из кнопок.
capture-error-use-buttons = ⚠️ Ответьте, пожалуйста, кнопками ниже.
capture-error-use-text = ⚠️ Ответьте, пожалуйста, текстовым сообщением.
capture-error-required = ⚠️ Портал требует это поле: его нельзя оставить пустым.

## Сводка

capture-summary-title = <b>Новый лид: проверьте и отправьте</b>
capture-summary-line = <b>{ $field }</b>: { $value }
capture-summary-empty-line = <b>{ $field }</b>: —
capture-summary-responsible = <b>Ответственный</b>: { $name }
capture-summary-hint = Нажмите на поле, чтобы изменить его, затем создайте лид.
capture-edit-label = ✏️ { $field }
capture-responsible-label = 👤 Ответственный: { $name }
capture-create-button = ✅ Создать лид
capture-responsible-title = Кто будет ответственным за лид? Выберите сотрудника или отправьте часть имени для поиска.
capture-responsible-nobody = Нет активных сотрудников, подходящих под «{ $query }».

## Дубли

capture-duplicates-title = <b>Возможные дубли</b> с тем же телефоном или e-mail:
capture-duplicate-lead = • Лид <b>{ $title }</b> — { $stage }, { $owner }, создан { $age }
capture-duplicate-contact = • Контакт <b>{ $name }</b>
capture-duplicates-hint = Откройте свой лид, добавьте к нему заметку вместо нового лида или всё равно создайте новый.
capture-open-label = 👁 { $title }
capture-note-label = 📝 Заметка: { $title }
capture-create-anyway-button = ➕ Всё равно создать
capture-note-prompt = Отправьте заметку к лиду <b>{ $title }</b>: она попадёт в его ленту. Новый лид создан не будет.
capture-note-added = 📝 Заметка добавлена к лиду <b>{ $title }</b>. Новый лид не создан.

## Создание

capture-created =
    ✅ Лид <b>{ $title }</b> создан.
    { $link }
capture-created-no-link = ✅ Лид <b>{ $title }</b> создан.
capture-failed-unreachable = ⚠️ Портал сейчас недоступен, поэтому лид ещё не создан. Черновик сохранён: попробуйте ещё раз чуть позже.
capture-failed-refused = ⚠️ Портал не принял лид: { $reason }
    Черновик сохранён: измените поле в сводке или попробуйте ещё раз.
capture-retry-button = 🔁 Попробовать ещё раз

## Дубликаты коллег, потерянные ответы, повторные нажатия, ошибки, которые не исправить повтором
# $owner — человек, $age — давность («3 дня назад»).

capture-duplicate-lead-hidden = • Лид сотрудника { $owner }, создан { $age }
capture-duplicates-hint-others = Эти лиды принадлежат коллегам: попросите владельца передать лид вам (🙋) или всё равно создайте новый лид.
capture-failed-unconfirmed = ⚠️ Портал не подтвердил создание лида: возможно, он создан, а возможно, нет. Черновик сохранён: «Попробовать ещё раз» сначала проверит портал и создаст лид, только если его там нет.
capture-failed-pending = ⏳ Лид пока не виден в портале: возможно, портал ещё сохраняет его. Черновик сохранён: повторите через минуту, бот сначала проверит.
capture-failed-problem-draft-kept = Черновик сохранён.
capture-already-creating = Этот лид уже создаётся…

## Однострочное пользовательское текстовое поле

capture-hint-line = Отправьте текст одной строкой.

## Контакт или пересланное сообщение при открытом черновике

capture-incoming-title = <b>У вас открыт черновик лида.</b> Только что пришли такие данные:
capture-incoming-question = Начать с ними новый лид вместо черновика, добавить их в открытый черновик (только в пустые поля; комментарий дописывается) или оставить черновик как есть?
capture-incoming-replace-button = 🔄 Заменить черновик
capture-incoming-merge-button = ➕ Добавить в черновик
capture-incoming-keep-button = ✖️ Оставить черновик как есть
