## Скорость реакции: новые лиды, которые никто не взял

escalation-waiting = ⏳ ждёт { $minutes } мин
escalation-taken-in = ✅ <b>Взял(а) { $name } через { $minutes } мин</b>
escalation-assigned-in = ✅ <b>Назначен: { $name }, через { $minutes } мин</b>
escalation-capped = ⏳ Никто не взял за { $minutes } мин; счёт остановлен.
escalation-ended-taken = ✅ Взят через { $minutes } мин
escalation-ended-assigned = ✅ Назначен через { $minutes } мин
escalation-ended-reassigned = ✅ Ответственный назначен через { $minutes } мин
escalation-ended-moved = ➡️ Перешёл дальше через { $minutes } мин
escalation-ended-closed = 🏁 Закрыт через { $minutes } мин
escalation-ended-deleted = 🗑 Удалён через { $minutes } мин
escalation-text = ⏰ <b>Лид #{ $id } { $title }</b> ждёт { $minutes } мин, и никто его не взял.
escalation-assign-button = 👉 Назначить…
escalation-assign-prompt =
    <b>Назначить лид #{ $id }</b> { $title }
    Выберите сотрудника или отправьте часть имени, чтобы сузить список.
escalation-assign-nobody = Ни у кого в имени нет «{ $query }». Отправьте другую часть имени.
escalation-assign-assigned = ✅ Лид #{ $id } теперь у сотрудника { $name }.
escalation-assign-refused = Назначать лиды могут только руководители и администраторы.
escalation-assign-gone = Этого лида больше нет.
escalation-assign-closed = Этот лид уже закрыт.
escalation-assign-unknown = Этот сотрудник больше не активен в портале. Выберите другого.
escalation-assign-failed = Портал не принял изменение. Попробуйте через минуту.
escalation-assigned-to-you = 📌 { $name } назначил(а) вам <b>лид #{ $id } { $title }</b>.

## Эскалация в настройках подписки

subs-escalate-state = ⏰ Эскалация: { $state }
subs-escalate-off = выкл.
subs-escalate-after = через { $minutes } мин
subs-escalate-off-button = Выкл.
subs-escalate-minutes = { $minutes } мин
subs-pick-escalation =
    <b>Подписка #{ $id }: эскалация</b>
    Если новый лид ждёт столько времени и его никто не взял, отмеченные ниже получат сообщение с кнопками «Взять» и «Назначить» (никто не отмечен: все руководители и администраторы). До тех пор сообщение о новом лиде считает время ожидания.
subs-refused-escalation = Настраивать эскалацию могут только руководители и администраторы.
