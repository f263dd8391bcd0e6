## Ask the owner: a rep's new client is already a colleague's lead.

owner-ask-label = 🙋 Ask { $owner } for it
owner-ask-prompt = The bot will ask <b>{ $owner }</b> to hand this lead over to you; managers see the request too. Add a note if you like (why the client is yours, when they called), or send the request as it is.
owner-ask-send-button = 📨 Send without a note
owner-ask-sent = 📨 Sent to { $owner } and the managers. You will get the answer here.
owner-ask-managers = 📨 { $owner } is not in the bot, so the request went to the managers. You will get the answer here.
owner-ask-already = You have already asked about this lead; the answer will come here.
owner-ask-yours = This lead is yours now: open it from the search.
owner-ask-nobody = Neither the owner nor any manager is in the bot, so nobody can get the request. Ask them in person or through the portal.
owner-ask-gone = This lead is no longer in the portal.
owner-ask-failed = The portal did not answer, so the request was not sent. Try again in a minute.

owner-request-to-owner = 🙋 <b>{ $asker }</b> asks you to hand over your lead <b>{ $title }</b>: the client came to them.
owner-request-to-manager = 🙋 <b>{ $asker }</b> asks for the lead <b>{ $title }</b> (responsible: { $owner }): the client came to them.
owner-request-nobody = nobody
owner-request-client = Client: { $client }
owner-request-note = Note: { $note }
owner-request-hand-over-button = ✅ Hand the lead over
owner-request-answer-button = 💬 Answer
owner-request-handed = ✅ Handed over to { $name }.
owner-request-already = This request is already settled.
owner-request-refused = Only the lead's responsible or a manager can do this.
owner-request-gone = This lead or request no longer exists.
owner-request-failed = The portal did not answer; nothing changed. Try again in a minute.
owner-request-answered = 💬 Your answer is sent to { $name }.
owner-request-handed-to-you = ✅ <b>{ $name }</b> handed you the lead <b>{ $title }</b>.
owner-request-answer-to-you = 💬 <b>{ $name }</b> about the lead <b>{ $title }</b>:
    { $text }
owner-answer-prompt = Send your answer to <b>{ $name }</b> in one message.
owner-answer-empty = Send the answer as text.
