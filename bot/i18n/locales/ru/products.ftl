# Товары лида.
# $product, $currency и $title — тексты из портала; $quantity, $price, $amount и $total —
# десятичные числа; $id и $count — целые.

products-title = <b>Товары лида №{ NUMBER($id, useGrouping: 0) }</b> { $title }
products-none = В этом лиде пока нет товаров.
products-line = • { $product }: { $quantity } × { $price } = { $amount } { $currency }
products-total = <b>Итого: { $total } { $currency }</b>
products-hint = Нажмите на строку, чтобы удалить её.
products-unnamed = Товар №{ NUMBER($id, useGrouping: 0) }
products-row-label = 🗑 { $product } × { $quantity }
products-add-button = ➕ Добавить товар

products-remove-confirm = Удалить <b>{ $product }</b> из лида?
products-remove-button = 🗑 Да, удалить

products-search-prompt = Пришлите часть названия товара, чтобы найти его в каталоге.
products-search-too-short = Слишком коротко для поиска: пришлите хотя бы два символа.
products-search-too-long = Слишком длинно для поиска: не больше { $count } символов.
products-not-text = Пришлите это текстом, пожалуйста.
products-found =
    { $count ->
        [one] Нашёлся { $count } товар
        [few] Нашлось { $count } товара
        [many] Нашлось { $count } товаров
       *[other] Нашлось { $count } товара
    } по запросу «{ $query }». Выберите:
products-found-more = Показаны только первые; уточните название, чтобы сузить поиск.
products-found-nothing = В каталоге нет ничего по запросу «{ $query }». Попробуйте другую часть названия.
products-found-line = { $product } — { $price } { $currency }
products-search-again-button = 🔍 Искать ещё

products-quantity-prompt =
    <b>{ $product }</b>
    Сколько? Пришлите количество, например 2 или 1,5.
products-price-prompt =
    <b>{ $product }</b> × { $quantity }
    Цена по каталогу: { $price } { $currency }. Оставьте её кнопкой или пришлите другую цену за единицу.
products-use-price-label = ✅ Взять { $price } { $currency }
products-amount-not-a-number = Это не число. Пришлите цифры, например 2, 1,5 или 1 500,50.
products-quantity-not-positive = Количество должно быть больше нуля.
products-quantity-too-large = Слишком много: количество — не больше 100 000.
products-quantity-too-precise = Не больше трёх знаков после запятой.
products-price-not-positive = Цена не может быть отрицательной.
products-price-too-large = Слишком большая цена: не больше 999 999 999,99.
products-price-too-precise = Не больше двух знаков после запятой.

products-added = ✅ Добавлено: { $product } × { $quantity }.
products-removed = 🗑 Удалено: { $product }.
products-changed = ⚠️ Пока вы работали, товары этого лида кто-то изменил, поэтому ничего не сохранено. Вот свежий список: попробуйте ещё раз.
products-row-gone = Этой строки в лиде уже нет; вот текущий список.
