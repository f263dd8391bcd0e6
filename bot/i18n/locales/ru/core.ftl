# Русские тексты бота.
#
# Каждое сообщение — корректный HTML для Telegram (только теги <b>, <i>, <code>; без голых < > &).
# Подписи (*-button, menu-*, settings-language-*, command-*, lead-label-*, role-*) — простой текст.
# $role — код роли (rep, manager, admin); $count, $hours и $id — целые числа;
# $date — дата или дата со временем.
# Множественное число: [one] 1, 21, 101; [few] 2–4, 22–24; [many] 0, 5–20, 25–30, 111;
# [other] дроби.


## Вход: Telegram-аккаунт ещё не привязан к пользователю портала

onboarding-greeting =
    Здравствуйте, { $name }! Я помогаю работать с лидами Битрикс24 прямо в Telegram.

    Сначала нужно понять, кто вы на портале. Нажмите <b>«Поделиться номером»</b> внизу: если номер совпадёт с вашим профилем в Битрикс24, доступ откроется сразу.

    Если администратор прислал вам ссылку-приглашение, просто откройте её.
onboarding-share-phone-button = 📱 Поделиться номером
onboarding-share-phone-placeholder = Нажмите кнопку внизу
onboarding-bound =
    ✅ Готово! Вы вошли как <b>{ $name }</b>.
    Роль: { $role ->
        [rep] { role-rep }
        [manager] { role-manager }
        [admin] { role-admin }
       *[other] { $role }
    }

    Откройте /menu, чтобы начать.
onboarding-already-bound = Вы вошли как <b>{ $name }</b>. Откройте /menu, чтобы продолжить.
onboarding-contact-not-yours = Это чужой контакт, а войти можно только по своему номеру. Нажмите <b>«Поделиться номером»</b> внизу.
onboarding-phone-not-found = Среди активных пользователей портала нет никого с таким номером. Проверьте телефон в своём профиле Битрикс24 или попросите у администратора ссылку-приглашение.
onboarding-phone-ambiguous = Этот номер указан у нескольких пользователей портала, и непонятно, кто из них вы. Попросите у администратора ссылку-приглашение.
onboarding-invite-accepted =
    ✅ Приглашение принято. Вы вошли как <b>{ $name }</b>.
    Роль: { $role ->
        [rep] { role-rep }
        [manager] { role-manager }
        [admin] { role-admin }
       *[other] { $role }
    }

    Откройте /menu, чтобы начать.
onboarding-invite-unknown = Ссылка-приглашение не работает. Проверьте, что открыли её целиком, или попросите у администратора новую.
onboarding-invite-used = По этой ссылке уже вошли. Приглашение одноразовое — попросите у администратора новое.
onboarding-invite-expired = Срок действия приглашения истёк. Попросите у администратора новое.
onboarding-invite-revoked = Администратор отозвал это приглашение. Если доступ всё ещё нужен, попросите новое.
onboarding-invite-already-bound = Вы уже вошли как <b>{ $name }</b>. Чтобы сменить пользователя портала, попросите администратора сначала отключить текущий доступ.
onboarding-deactivated = Ваш пользователь на портале деактивирован, поэтому доступ к боту закрыт. Если это ошибка, обратитесь к администратору.
onboarding-not-bound = Вы ещё не вошли. Поделитесь номером с помощью кнопки внизу или попросите у администратора ссылку-приглашение.
onboarding-access-revoked = Администратор отключил ваш доступ к боту. Чтобы снова им пользоваться, попросите у администратора новую ссылку-приглашение.
inline-unbound-button = Откройте бота, чтобы войти


## Роли и проверки доступа

role-rep = Менеджер по продажам
role-manager = Руководитель
role-admin = Администратор
access-managers-only = Это доступно только руководителям и администраторам.
access-admins-only = Это доступно только администраторам.
access-lead-hidden = У вас нет доступа к этому лиду.


## Главное меню и общие кнопки

menu-title =
    <b>Главное меню</b>
    Что нужно сделать?
menu-new-lead = ➕ Новый лид
menu-find = 🔍 Найти
menu-my-leads = 📋 Мои лиды
menu-subscriptions = 🔔 Подписки
menu-settings = ⚙️ Настройки
menu-admin = 🛠 Управление
button-back = « Назад
button-cancel = ✖️ Отмена
button-menu = 🏠 Меню
button-confirm = ✅ Подтвердить


## /help, /cancel, /status

help-text =
    <b>Что умеет бот</b>

    /menu — главное меню
    /new — новый лид (или пришлите мне контакт либо перешлите сообщение клиента)
    /find — найти лид по телефону, e-mail, имени, компании или #номеру
    /my — мои открытые лиды по стадиям
    /report — лиды за период картинкой: воронка, дни, источники, ответственные
    /subscribe — получать уведомления о лидах здесь (в группе — её администраторы-менеджеры)
    /subscriptions — уведомления этого чата: изменить, приостановить, удалить
    /status — ваш аккаунт, связь с порталом и состояние бота
    /settings — язык, часовой пояс и рабочие часы
    /hours — рабочие часы этого чата; вне их уведомления ждут утренней сводки
    /cancel — прервать текущее действие и вернуться в меню
    /help — эта справка
help-admin-text =
    <b>Для администраторов</b>
    Меню → Управление: у кого есть доступ, роли и ссылки-приглашения; свои поля лидов, поля формы лида и карточка лида в портале; напоминания о застрявших лидах; какие чаты получают уведомления и какие уведомления не удалось доставить. /status показывает состояние бота.
cancel-done = Отменено. Возвращаемся в меню.
cancel-nothing = Отменять нечего.
status-signed-in =
    Вы вошли как <b>{ $name }</b>.
    Роль: { $role ->
        [rep] { role-rep }
        [manager] { role-manager }
        [admin] { role-admin }
       *[other] { $role }
    }
status-portal-online = Портал: на связи ✅
status-portal-offline = Портал: сейчас недоступен ⚠️
status-subscriptions =
    { $count ->
        [0] Активных подписок нет.
        [one] { $count } активная подписка.
        [few] { $count } активные подписки.
        [many] { $count } активных подписок.
       *[other] { $count } активной подписки.
    }


## /settings

settings-title = <b>Настройки</b>
settings-language-current = Язык: русский
settings-language-button = 🌐 Язык
settings-language-prompt = Выберите язык:
settings-language-en = English
settings-language-ru = Русский
# Показывается уже на выбранном языке, поэтому каждый файл называет свой язык.
settings-language-set = Готово: теперь бот говорит по-русски.


## Описания команд для setMyCommands (простой текст, до 256 символов)

command-start = Начать и войти
command-menu = Главное меню
command-new = Новый лид
command-find = Найти лид
command-my = Мои лиды
command-today = Дела на сегодня
command-help = Что умеет бот
command-cancel = Отменить текущее действие
command-settings = Язык и настройки
command-hours = Рабочие часы и тишина
command-subscribe = Уведомления о лидах
command-subscriptions = Управление подписками
command-status = Аккаунт и связь с порталом
command-report = Лиды за период картинкой


## Управление: привязки и приглашения

admin-title =
    <b>Управление</b>
    Кто и с какими правами пользуется ботом.
admin-bindings-button = 👥 Пользователи с доступом
admin-invites-button = ✉️ Активные приглашения
admin-create-invite-button = ➕ Пригласить
admin-bindings-header =
    <b>Пользователи с доступом</b>: { $count ->
        [0] пока никого
        [one] { $count } человек
        [few] { $count } человека
        [many] { $count } человек
       *[other] { $count } человека
    }
admin-binding-line =
    { $name } — { $role ->
        [rep] { role-rep }
        [manager] { role-manager }
        [admin] { role-admin }
       *[other] { $role }
    }, с { $date }
admin-binding-title =
    <b>{ $name }</b>
    Роль: { $role ->
        [rep] { role-rep }
        [manager] { role-manager }
        [admin] { role-admin }
       *[other] { $role }
    }
    Доступ с { $date }
admin-change-role-button = 🔁 Сменить роль
admin-choose-role = Выберите новую роль для <b>{ $name }</b>:
admin-role-changed =
    ✅ Роль изменена: <b>{ $name }</b> — { $role ->
        [rep] { role-rep }
        [manager] { role-manager }
        [admin] { role-admin }
       *[other] { $role }
    }.
admin-revoke-button = 🚫 Отключить доступ
admin-revoke-confirm = Отключить доступ для <b>{ $name }</b>? Лиды в боте сразу станут недоступны, а чтобы вернуться, придётся войти заново.
admin-revoke-yes = Да, отключить
admin-revoked = Доступ для <b>{ $name }</b> отключён.
admin-cannot-revoke-self = Нельзя отключить доступ самому себе.
admin-last-admin = Вы единственный администратор. Сначала назначьте администратором кого-то ещё.
admin-invite-choose-user = Кого приглашаем? Выберите пользователя портала или отправьте часть имени для поиска.
admin-invite-no-users = Активных пользователей портала по запросу «{ $query }» не нашлось.
admin-invite-choose-role = Какую роль дать пользователю <b>{ $name }</b>?
admin-invite-created =
    ✉️ Приглашение готово.
    Для: <b>{ $name }</b>
    Роль: { $role ->
        [rep] { role-rep }
        [manager] { role-manager }
        [admin] { role-admin }
       *[other] { $role }
    }

    { $link }

    Действует { $hours ->
        [one] { $hours } час
        [few] { $hours } часа
        [many] { $hours } часов
       *[other] { $hours } часа
    }, сработает только один раз. Отправьте ссылку сотруднику в личные сообщения.
admin-invites-header =
    <b>Активные приглашения</b>: { $count ->
        [0] нет
        [one] { $count } приглашение
        [few] { $count } приглашения
        [many] { $count } приглашений
       *[other] { $count } приглашения
    }
admin-invite-line =
    { $name } — { $role ->
        [rep] { role-rep }
        [manager] { role-manager }
        [admin] { role-admin }
       *[other] { $role }
    }, истекает { $hours ->
        [0] меньше чем через час
        [one] через { $hours } час
        [few] через { $hours } часа
        [many] через { $hours } часов
       *[other] через { $hours } часа
    }
admin-invite-revoke-button = 🚫 Отозвать приглашение
admin-invite-revoked = Приглашение для <b>{ $name }</b> отозвано, ссылка больше не работает.


## Ошибки, которые может увидеть пользователь

error-portal-unreachable = Портал сейчас недоступен. Попробуйте через минуту.
error-portal-refused = Портал отклонил запрос: { $reason }
error-rate-limited = Слишком много запросов. Пожалуйста, чуть помедленнее.
error-not-found = Этого уже нет в портале: возможно, его удалили.
error-unexpected = Что-то пошло не так, ничего не изменилось. Попробуйте ещё раз.
error-stale-button = Эта кнопка устарела — вот меню заново.
error-telegram-busy = Telegram перегружен, пробуем ещё раз…


## Лиды

leads-count =
    { $count ->
        [one] { $count } лид
        [few] { $count } лида
        [many] { $count } лидов
       *[other] { $count } лида
    }
leads-none = Лидов пока нет.
lead-title = Лид №{ NUMBER($id, useGrouping: 0) }
lead-untitled = Лид без названия
lead-label-title = Название
lead-label-name = Имя
lead-label-phone = Телефон
lead-label-email = Эл. почта
lead-label-company = Компания
lead-label-comments = Комментарий
lead-label-stage = Стадия
lead-label-responsible = Ответственный
lead-label-source = Источник
lead-label-created = Создан
lead-label-modified = Изменён


## Относительное время

time-just-now = только что
time-minutes-ago =
    { $count ->
        [one] { $count } минуту назад
        [few] { $count } минуты назад
        [many] { $count } минут назад
       *[other] { $count } минуты назад
    }
time-hours-ago =
    { $count ->
        [one] { $count } час назад
        [few] { $count } часа назад
        [many] { $count } часов назад
       *[other] { $count } часа назад
    }
time-days-ago =
    { $count ->
        [one] { $count } день назад
        [few] { $count } дня назад
        [many] { $count } дней назад
       *[other] { $count } дня назад
    }


## Доступ: отключённые аккаунты и приглашения с проверкой телефона

onboarding-invite-phone-required = Это приглашение действует только вместе с номером телефона приглашённого. Нажмите <b>Поделиться номером</b> ниже, чтобы подтвердить, что это вы.
onboarding-invite-phone-mismatch = Ваш номер не совпадает с номером в профиле приглашённого на портале, поэтому это приглашение не может вас впустить. Обратитесь к администратору, который его прислал.
admin-blocked-button = 🔒 Отключённые аккаунты
admin-blocked-header =
    <b>Отключённые аккаунты</b>: { $count ->
        [0] нет
        [one] { $count } аккаунт
        [few] { $count } аккаунта
        [many] { $count } аккаунтов
       *[other] { $count } аккаунта
    }
    Они не могут войти по номеру телефона. Нажмите на аккаунт, чтобы снять блокировку: тогда он снова сможет войти по номеру, как менеджер по продажам. Приглашение тоже снимает блокировку.
admin-blocked-line = 🔓 { $name } · Telegram id { NUMBER($id, useGrouping: 0) }
admin-block-lifted = ✅ Блокировка снята: <b>{ $name }</b> снова может войти по номеру телефона, как менеджер по продажам.
admin-invite-choose-kind =
    Кто сможет воспользоваться приглашением для <b>{ $name }</b>?
    Ссылка-приглашение работает как ключ: доступ получит тот, кто откроет её первым.
admin-invite-anyone-button = 🔗 Любой, кто откроет ссылку
admin-invite-phone-only-button = 📱 Только с его номером
admin-invite-no-phone = В профиле <b>{ $name }</b> на портале нет телефона, поэтому привязать приглашение к номеру нельзя.
admin-invite-bearer-warning = ⚠️ Доступ получит тот, кто первым откроет эту ссылку. Отправьте её только этому человеку, в личном чате, и отзовите в разделе <b>Активные приглашения</b>, если она могла попасть к кому-то ещё.
admin-invite-phone-bound = 🔒 Она впустит только аккаунт Telegram, который поделится номером <b>{ $name }</b> из профиля на портале.

## Ошибки портала, которые не исправить повтором: что не так и кто может исправить
# $method — имя REST-метода портала (crm.lead.add); $reason — слова самого портала.

error-portal-permission = Портал отказал: у пользователя портала, от имени которого работает бот, нет прав на { $method } ({ $reason }). Попросите администратора Битрикс24 выдать ему права.
error-portal-scope = Портал отказал: вебхуку или приложению бота не хватает разрешения (scope) для { $method }. Попросите администратора Битрикс24 добавить его.
error-portal-auth-type = Портал отказал: { $method } не работает с таким типом подключения (вебхук или приложение). Обратитесь к администратору бота.
error-portal-auth = Портал не принял учётные данные бота: они неверны, истекли или отозваны. Попросите администратора бота переподключить его.
error-portal-method = Портал не знает метода { $method }: модуль выключен или версия портала слишком старая. Обратитесь к администратору Битрикс24.
error-portal-time-limit = Портал исчерпал лимит времени на такие запросы. Попробуйте через несколько минут.
error-portal-unconfirmed = Портал не подтвердил изменение; возможно, оно всё же сохранено. Проверьте, прежде чем повторять.
