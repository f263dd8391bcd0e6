# The product rows of a lead.
# $product, $currency and $title are plain texts from the portal; $quantity, $price, $amount
# and $total are decimal numbers; $id and $count are integers.

products-title = <b>Products of lead #{ NUMBER($id, useGrouping: 0) }</b> { $title }
products-none = No products on this lead yet.
products-line = • { $product }: { $quantity } × { $price } = { $amount } { $currency }
products-total = <b>Total: { $total } { $currency }</b>
products-hint = Tap a row to remove it.
products-unnamed = Product #{ NUMBER($id, useGrouping: 0) }
products-row-label = 🗑 { $product } × { $quantity }
products-add-button = ➕ Add a product

products-remove-confirm = Remove <b>{ $product }</b> from the lead?
products-remove-button = 🗑 Yes, remove

products-search-prompt = Send a part of the product name to find it in the catalogue.
products-search-too-short = That's too short to look for: send at least two characters.
products-search-too-long = That's too long to look for: send at most { $count } characters.
products-not-text = Send it as text, please.
products-found =
    Found { $count ->
        [one] { $count } product
       *[other] { $count } products
    } for “{ $query }”. Choose one:
products-found-more = Only the first ones are shown; type more of the name to narrow it down.
products-found-nothing = Nothing in the catalogue matches “{ $query }”. Try another part of the name.
products-found-line = { $product } — { $price } { $currency }
products-search-again-button = 🔍 Search again

products-quantity-prompt =
    <b>{ $product }</b>
    How many? Send the quantity, e.g. 2 or 1,5.
products-price-prompt =
    <b>{ $product }</b> × { $quantity }
    Catalogue price: { $price } { $currency }. Keep it with the button, or send another unit price.
products-use-price-label = ✅ Use { $price } { $currency }
products-amount-not-a-number = That's not a number. Send digits, e.g. 2, 1,5 or 1 500.50.
products-quantity-not-positive = The quantity must be greater than zero.
products-quantity-too-large = That's too many: the quantity can be at most 100 000.
products-quantity-too-precise = Use at most three digits after the decimal point.
products-price-not-positive = The price can't be negative.
products-price-too-large = That price is too large: at most 999 999 999.99.
products-price-too-precise = Use at most two digits after the decimal point.

products-added = ✅ Added: { $product } × { $quantity }.
products-removed = 🗑 Removed: { $product }.
products-changed = ⚠️ Someone changed this lead's products while you were working, so nothing was saved. Here is the fresh list: please try again.
products-row-gone = That row is no longer on the lead; here is the current list.
