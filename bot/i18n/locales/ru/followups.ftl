# Напоминания: дело по лиду в портале, напоминание о нём и /today.
# $due и $zone — простой текст (местное время, название пояса); $title и $subject — простой
# текст (экранируется при вставке в HTML); $id, $number и $count — целые числа.

## Напоминание из карточки

followup-when = ⏰ <b>Когда напомнить?</b>
    Время по поясу { $zone }.
followup-in-hour-button = Через час
followup-today-evening-button = Сегодня в 18:00
followup-tomorrow-button = Завтра в 10:00
followup-three-days-button = Через 3 дня, в 10:00
followup-pick-day-button = 📅 Выбрать дату…
followup-pick-day = 📅 Выберите день.
followup-pick-time = 🕐 <b>{ $day }</b>: выберите время или напишите его, например 14:30.
followup-bad-time = ⚠️ Это не время: напишите его как 14:30.
followup-past = ⚠️ Этот момент уже прошёл: выберите более поздний.
followup-text = ✍️ Срок — { $due }. Добавьте заметку для себя (что сделать, что сказать) или пропустите.
followup-skip-button = Пропустить
followup-created = ✅ Напомню { $due }.
followup-back-to-card-button = « К карточке
followup-todo-title = Связаться с клиентом
followup-lead-gone = ⚠️ Этот лид уже не ваш или удалён: напоминание не создано.
followup-failed = ⚠️ Портал не принял дело. Попробуйте через минуту.

## Напоминание

followup-reminder = ⏰ <b>Напоминание: { $title }</b> (лид #{ $id })
    Срок — { $due }
followup-done-button = ✅ Сделано
followup-snooze-15-button = ⏰ 15 мин
followup-snooze-hour-button = ⏰ 1 ч
followup-snooze-tomorrow-button = ⏰ Завтра в 10:00
followup-done = ✅ Готово: дело завершено в портале.
followup-completed = ☑️ Это дело уже завершено в портале.
followup-snoozed = ⏰ Перенесено на { $due }: напомню тогда.
followup-already = Это напоминание уже закрыто.
followup-refused = ⛔ Это напоминание не ваше.
followup-gone = ⚠️ Этого дела или лида больше нет в портале.

## /today

followup-today-title = 📋 <b>Дела на сегодня: { $count }</b>
followup-today-line = { $number }. { $due } · { $subject } · лид #{ $id }
followup-today-overdue-line = { $number }. ❗ <b>{ $due }</b> (просрочено) · { $subject } · лид #{ $id }
followup-today-done-label = ✅ { $number }
followup-today-open-label = 📇 #{ $id }
followup-today-more = …и ещё: показаны первые 30.
followup-today-empty = 🎉 На сегодня ничего нет, просроченных тоже.
followup-today-failed = ⚠️ Портал не ответил. Повторите /today через минуту.
