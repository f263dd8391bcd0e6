## /status

status-title = <b>Status</b>
status-crm-classic = CRM mode: classic, leads are on.
status-crm-simple = ⚠️ The portal is in simple CRM mode: leads don't exist there (every new lead turns into a deal at once), so lead capture is switched off. An admin can switch the CRM back to classic mode in the portal's CRM settings.
status-portal-problem = Portal: not reachable right now ⚠️ (<code>{ $reason }</code>)
status-budget = Portal requests: { $used } of { $burst } in the burst used, { $rate } per second sustained. Refused by the portal since start: { $refused }.
status-events-none = Events: none received yet.
status-events =
    Events: { $pending ->
        [0] nothing waiting
        [one] { $pending } waiting
       *[other] { $pending } waiting
    }, last one received { $ago }.
status-app-installed = Bitrix24 application: installed on { $domain }; lead changes come from the portal's offline event queue.
status-app-uninstalled = ⚠️ Bitrix24 application: removed from { $domain }, so no lead changes arrive. An admin installs it again in the portal (Applications → Developer resources → the bot's local application).
status-app-waiting = ⚠️ Bitrix24 application: not installed yet, so no lead changes arrive. An admin installs it in the portal (Applications → Developer resources → Other → Local application).
status-app-refused = ⚠️ Bitrix24 application: the portal has refused its tokens { $failures } times in a row since { $when } (UTC) (<code>{ $code }</code>), so no lead changes arrive. It was probably removed from { $domain } while the bot could not hear of it: an admin installs it again in the portal (Applications → Developer resources → the bot's local application).
status-app-failing = ⚠️ Bitrix24 application: reading the portal's offline event queue has failed { $failures } times in a row since { $when } (UTC) (<code>{ $code }</code>). The bot keeps trying, less often (at least every 5 minutes); the portal keeps the changes meanwhile, so none is lost.
status-watermark = Catch-up poller: changes read up to { $when } (UTC).
status-watermark-none = Catch-up poller: not run yet.
status-outbox =
    Notifications: { $pending ->
        [0] none waiting
        [one] { $pending } waiting
       *[other] { $pending } waiting
    }; { $dead ->
        [0] none failed
        [one] { $dead } failed for good
       *[other] { $dead } failed for good
    }.
status-webhook = Telegram webhook: { $url }, { $pending } updates waiting.
status-webhook-error = Telegram's last webhook error: { $error }
capture-simple-mode = The portal is in simple CRM mode, where leads don't exist: every new lead would turn into a deal at once. Lead capture is off; ask an admin.
