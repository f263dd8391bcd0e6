# Working hours of a chat: time zone, days, hours, quiet outside them.
# $zone, $now, $days, $start and $end are plain text.

settings-hours-button = 🕘 Часовой пояс и рабочие часы
hours-title = <b>🕘 Рабочие часы этого чата</b>
hours-zone-line = Часовой пояс: { $zone } (сейчас { $now })
hours-days-line = Рабочие дни: { $days }
hours-window-line = Часы: { $start }–{ $end }
hours-quiet-on = 🌙 <b>Тишина вне рабочих часов: включена.</b> Уведомления ждут и приходят одной сводкой в начале рабочего дня. Новый лид в группе и лид, переданный вам, приходят сразу.
hours-quiet-off = 🔔 Тишина вне рабочих часов: выключена. Уведомления приходят в любое время.
hours-zone-button = 🌍 Часовой пояс
hours-days-button = 📅 Дни
hours-window-button = 🕘 Часы
hours-quiet-turn-on = 🌙 Тишина вне рабочих часов
hours-quiet-turn-off = 🔔 Уведомлять всегда
hours-save-button = 💾 Сохранить
hours-zone-prompt = Выберите часовой пояс или напишите его название (например, Europe/Moscow):
hours-zone-unknown = «{ $zone }» — такого часового пояса я не знаю. Напишите название вроде Europe/Moscow или Asia/Novosibirsk либо выберите из списка.
hours-zone-set = Готово: часовой пояс — { $zone }.
hours-days-prompt = Отметьте рабочие дни и сохраните:
hours-window-prompt = Напишите рабочие часы диапазоном, например <code>9:00-18:00</code>. Конец раньше начала (<code>22:00-6:00</code>) — ночная смена.
hours-window-invalid = Это не диапазон часов. Напишите как <code>9:00-18:00</code> или <code>8-17</code>; начало и конец должны различаться.
hours-saved = Сохранено.
hours-quiet-now-on = Готово: вне рабочих часов уведомления будут ждать сводки.
hours-quiet-now-off = Готово: уведомления приходят в любое время; накопленное придёт сейчас одной сводкой.
hours-refused = Рабочие часы группы может задать только менеджер.
hours-days-none = нет
hours-day-1 = Пн
hours-day-2 = Вт
hours-day-3 = Ср
hours-day-4 = Чт
hours-day-5 = Пт
hours-day-6 = Сб
hours-day-7 = Вс
