# Робот портала «Отправить в Telegram».
# $id — целое число; $title, $cut, $name и $group — простой текст (в HTML экранируется).

## Сообщение робота

robot-message = 🤖 <b>Лид #{ $id }: { $title }</b>
robot-cut = <i>(обрезано: ещё { $cut } симв.)</i>

## Почему сообщение робота не доставлено (видно в журнале автоматизации портала)

robot-error-lead-missing = Лид #{ $id } не найден на портале.
robot-error-not-signed-in = Ответственный ({ $name }) не вошёл в Telegram-бота.
robot-error-notifications-off = Ответственный ({ $name }) остановил Telegram-бота.
robot-error-no-group = В Telegram-боте нет подписанной группы «{ $group }».
robot-error-two-groups = Подписанных групп с названием «{ $group }» несколько: укажите id чата группы.
robot-error-group-empty = Выбрана «Группа команды», но название группы пустое.
robot-error-recipient = Получатель должен быть «Ответственный» или «Группа команды».
robot-error-empty = Шаблон сообщения пуст.
robot-error-not-sent = Telegram не принял сообщение: { $reason }
robot-error-portal = Портал не ответил; сообщение не отправлено.
