# The "Send to Telegram" automation rule of the portal.
# $id is an integer; $title, $cut, $name and $group are plain text (escaped when put into HTML).

## The message a rule sends

robot-message = 🤖 <b>Lead #{ $id }: { $title }</b>
robot-cut = <i>(cut: { $cut } more characters)</i>

## Why a rule's message was not delivered (shown in the portal's automation log)

robot-error-lead-missing = Lead #{ $id } was not found in the portal.
robot-error-not-signed-in = The responsible ({ $name }) is not signed in to the Telegram bot.
robot-error-notifications-off = The responsible ({ $name }) has stopped the Telegram bot.
robot-error-no-group = No team group named “{ $group }” is subscribed in the Telegram bot.
robot-error-two-groups = More than one subscribed group is named “{ $group }”: give the group's chat id instead.
robot-error-group-empty = “A team group” is chosen but the group's name is empty.
robot-error-recipient = The recipient must be “The responsible” or “A team group”.
robot-error-empty = The message template is empty.
robot-error-not-sent = Telegram did not take the message: { $reason }
robot-error-portal = The portal did not answer; the message was not sent.
