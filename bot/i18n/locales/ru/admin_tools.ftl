# Русские тексты инструментов администратора: свои поля лидов, поля формы, карточка лида.
#
# $label, $value, $code, $values, $fields и $layout — текст; $type — тип поля портала
# (string, double, integer, date, boolean, enumeration или другой); $required — yes или no;
# $count и $saved — целые числа.


## Кнопки в меню администратора

admin-fields-button = 🧩 Свои поля лидов
admin-form-button = 📝 Поля формы лида
admin-card-button = 🗂 Карточка лида в портале


## Свои поля лидов

admin-fields-type =
    { $type ->
        [string] Строка
        [double] Число
        [integer] Целое число
        [date] Дата
        [boolean] Да / нет
        [enumeration] Список
       *[other] { $type }
    }
admin-fields-header =
    <b>Свои поля лидов</b>: { $count ->
        [0] пока нет
        [one] { $count } поле
        [few] { $count } поля
        [many] { $count } полей
       *[other] { $count } поля
    }
    Выберите поле, чтобы изменить его, или создайте новое.
admin-fields-line =
    { $label } — { admin-fields-type }{ $required ->
        [yes] , обязательное
       *[other] {""}
    }{ $type ->
        [enumeration] , { $count ->
            [one] { $count } значение
            [few] { $count } значения
            [many] { $count } значений
           *[other] { $count } значения
        }
       *[other] {""}
    }
admin-fields-field =
    <b>{ $label }</b>
    Код: <code>{ $code }</code>
    Тип: { admin-fields-type }
    Обязательное: { $required ->
        [yes] да
       *[other] нет
    }{ $type ->
        [enumeration] {""}
            Значений: { $count }
       *[other] {""}
    }
admin-fields-new-button = ➕ Новое поле
admin-fields-rename-button = ✏️ Переименовать
admin-fields-values-button = 📋 Значения списка
admin-fields-make-required-button = ❗ Сделать обязательным
admin-fields-make-optional-button = ◽ Сделать необязательным
admin-fields-delete-button = 🗑 Удалить поле
admin-fields-required-set = ✅ Теперь поле обязательное: его нужно заполнить в каждом новом лиде.
admin-fields-optional-set = ✅ Теперь поле необязательное.
admin-fields-rename-prompt = Отправьте новое название поля <b>{ $label }</b>. Оно заменит название в форме, в списке и в фильтре.
admin-fields-renamed = ✅ Новое название: <b>{ $label }</b>.
admin-fields-delete-confirm = Удалить поле <b>{ $label }</b>? Его значения пропадут из всех лидов портала, отменить это нельзя.
admin-fields-delete-yes-button = Да, удалить поле
admin-fields-deleted = ✅ Поле удалено.
admin-fields-values-header =
    <b>{ $label }</b>: { $count ->
        [0] значений пока нет
        [one] { $count } значение
        [few] { $count } значения
        [many] { $count } значений
       *[other] { $count } значения
    }
    Выберите значение, чтобы переименовать или удалить его.
admin-fields-add-values-button = ➕ Добавить значения
admin-fields-add-values-prompt = Отправьте новые значения поля <b>{ $label }</b>, по одному в строке.
admin-fields-values-added =
    ✅ { $count ->
        [one] Добавлено { $count } значение.
        [few] Добавлено { $count } значения.
        [many] Добавлено { $count } значений.
       *[other] Добавлено { $count } значения.
    }
admin-fields-value =
    <b>{ $label }</b>
    Значение: { $value }
admin-fields-value-rename-button = ✏️ Переименовать значение
admin-fields-value-delete-button = 🗑 Удалить значение
admin-fields-value-rename-prompt = Отправьте новый текст для «{ $value }». У лидов с этим значением останется оно же, с новым текстом.
admin-fields-value-renamed = ✅ Теперь значение называется «{ $value }».
admin-fields-value-delete-confirm = Удалить значение «{ $value }» поля <b>{ $label }</b>? У лидов с этим значением поле станет пустым.
admin-fields-value-delete-yes-button = Да, удалить значение
admin-fields-value-deleted = ✅ Значение удалено.
admin-fields-new-type = <b>Новое поле</b>. Какие данные в нём будут?
admin-fields-new-label = Отправьте название поля, как его увидят люди, например <i>Зона доставки</i>.
admin-fields-new-name = Отправьте код поля: только латинские буквы, цифры и _, например <code>DELIVERY_ZONE</code>. Портал добавит приставку <code>UF_CRM_</code>.
admin-fields-new-values = Отправьте значения списка, по одному в строке.
admin-fields-new-confirm =
    <b>Создать это поле?</b>
    Название: { $label }
    Код: <code>{ $code }</code>
    Тип: { admin-fields-type }
admin-fields-new-confirm-values =
    { $count ->
        [one] { $count } значение
        [few] { $count } значения
        [many] { $count } значений
       *[other] { $count } значения
    }: { $values }
admin-fields-create-button = ✅ Создать поле
admin-fields-created = ✅ Поле <b>{ $label }</b> создано. Форма лида может спрашивать его уже сейчас.
admin-fields-name-empty = Код пустой. Отправьте латинские буквы, цифры или _, например <code>DELIVERY_ZONE</code>.
admin-fields-name-bad-chars = В коде можно использовать только латинские буквы, цифры и _ (без пробелов). Попробуйте ещё раз, например <code>DELIVERY_ZONE</code>.
admin-fields-name-too-long = Код слишком длинный: не больше 43 символов после <code>UF_CRM_</code>. Отправьте покороче.
admin-fields-name-exists = Поле с таким кодом уже есть. Отправьте другой код.
admin-fields-label-empty = Название пустое. Отправьте пару слов, например <i>Зона доставки</i>.
admin-fields-label-too-long = Название слишком длинное: не больше 100 символов. Отправьте покороче.
admin-fields-values-empty = Я не нашёл ни одного значения. Отправьте их по одному в строке.
admin-fields-values-too-long = Одно из значений слишком длинное: не больше 255 символов. Отправьте их ещё раз.
admin-fields-values-too-many = Слишком много значений: в списке не больше 100 (а для переименования нужно ровно одно). Отправьте ещё раз.
admin-fields-values-duplicate = Значение повторяется или уже есть в списке. Отправьте их ещё раз без повторов.


## Поля формы лида

admin-form-header =
    <b>Поля формы лида</b>
    Поля с ✅ бот спрашивает при создании лида, в этом порядке ({ $count }). Нажмите на поле, чтобы убрать его, ⬆️ ⬇️ — чтобы переместить; ⬜ — чтобы добавить. Потом сохраните.
admin-form-required = Спрашиваются всегда (обязательные в портале): { $fields }
admin-form-save-button = 💾 Сохранить
admin-form-default-button = ↩️ Поля по умолчанию
admin-form-saved =
    ✅ Сохранено: форма спрашивает { $count ->
        [0] только обязательные поля
        [one] { $count } дополнительное поле
        [few] { $count } дополнительных поля
        [many] { $count } дополнительных полей
       *[other] { $count } дополнительного поля
    }.
admin-form-default-set = ✅ Вернулись поля по умолчанию.


## Карточка лида в портале

admin-card-header = <b>Карточка лида в портале</b>
admin-card-layout =
    В общей карточке { $count ->
        [one] { $count } раздел
        [few] { $count } раздела
        [many] { $count } разделов
       *[other] { $count } раздела
    }:
    { $layout }
admin-card-default = Портал показывает стандартную карточку: общая раскладка не задана.
admin-card-saved =
    В боте сохранена раскладка ({ $saved ->
        [one] { $saved } раздел
        [few] { $saved } раздела
        [many] { $saved } разделов
       *[other] { $saved } раздела
    }).
admin-card-reset-button = 🔄 Сбросить к стандартной
admin-card-force-button = 👥 Общая карточка для всех
admin-card-save-button = 💾 Сохранить эту раскладку
admin-card-apply-button = 📥 Применить сохранённую
admin-card-confirm-button = ✅ Да, выполнить
admin-card-reset-confirm = Сбросить общую карточку лида к стандартной? Текущая раскладка пропадёт, если вы её не сохранили.
admin-card-force-confirm = Показывать всем общую карточку лида? Личные раскладки всех пользователей будут удалены.
admin-card-save-confirm = Сохранить текущую общую раскладку в боте? Сохранённая ранее будет заменена.
admin-card-apply-confirm = Сделать сохранённую раскладку общей карточкой лида для всех?
admin-card-reset-done = ✅ Общая карточка снова стандартная.
admin-card-force-done = ✅ Теперь все видят общую карточку.
admin-card-save-done =
    ✅ Раскладка сохранена ({ $count ->
        [one] { $count } раздел
        [few] { $count } раздела
        [many] { $count } разделов
       *[other] { $count } раздела
    }).
admin-card-apply-done =
    ✅ Сохранённая раскладка стала общей карточкой ({ $count ->
        [one] { $count } раздел
        [few] { $count } раздела
        [many] { $count } разделов
       *[other] { $count } раздела
    }).
admin-card-nothing-to-save = Сохранять нечего: общей раскладки нет, портал показывает стандартную карточку.
admin-card-nothing-saved = Сохранённой раскладки пока нет.

## Stale-lead nudges
# $count is an integer; $idle and $first are plain text.

admin-nudges-button = 🧹 Напоминания о застрявших лидах
admin-nudges-title = <b>🧹 Напоминания о застрявших лидах</b>
    В начале рабочего дня каждого (его /hours) бот присылает одно сообщение с его открытыми лидами, которые ждут слишком долго, — с кнопками напоминания, стадии и карточки.
admin-nudges-idle-line = 💤 Без активности дольше: { $idle }
admin-nudges-first-line = 🆕 На первой стадии дольше: { $first }
admin-nudges-all-off = Оба правила выключены: напоминаний нет.
admin-nudges-idle-button = 💤 Изменить: без активности
admin-nudges-first-button = 🆕 Изменить: первая стадия
admin-nudges-days = { $count ->
        [one] { $count } день
        [few] { $count } дня
        [many] { $count } дней
       *[other] { $count } дня
    }
admin-nudges-hours = { $count ->
        [one] { $count } час
        [few] { $count } часа
        [many] { $count } часов
       *[other] { $count } часа
    }
admin-nudges-off = выкл.
admin-nudges-saved = Сохранено: учтётся со следующего рабочего дня.
