"""The product catalog: SKUs, variants of a parent, prices, categories and long-tail popularity."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from clientela.generate.cells import money, quote
from clientela.generate.chance import normalised
from clientela.generate.names import ascii_slug
from clientela.generate.stores import BRAND, DOMAIN, MARKETPLACE_SELLERS, WEB_OWN_SELLER

TAX_RATE = 0.19
"""Chilean VAT: SellingPrice is Price without it."""
SALE_LEVELS = (0, 10, 20, 30, 40, 50)
"""Percent off the list price; level 0 is the list price."""

_SIZES = {
    "apparel": (("XS", 0.08), ("S", 0.2), ("M", 0.3), ("L", 0.24), ("XL", 0.12), ("XXL", 0.06)),
    "jeans": (("36", 0.1), ("38", 0.22), ("40", 0.26), ("42", 0.22), ("44", 0.13), ("46", 0.07)),
    "shoes": tuple((str(s), w) for s, w in zip(range(35, 45), (1, 3, 6, 8, 8, 7, 7, 5, 3, 2),
                                                strict=True)),
    "kids": tuple((str(s), 1.0) for s in (2, 4, 6, 8, 10, 12, 14)),
    "bed": (("1 plaza", 0.3), ("1,5 plazas", 0.25), ("2 plazas", 0.35), ("King", 0.1)),
}
_COLOURS = (
    ("Negro", "NEG"), ("Blanco", "BLA"), ("Azul Marino", "AZM"), ("Gris Melange", "GRM"),
    ("Beige", "BEI"), ("Rojo", "ROJ"), ("Verde Oliva", "VOL"), ("Rosado", "ROS"),
    ("Celeste", "CEL"), ("Café", "CAF"),
)
_STYLES = {
    "apparel": ("Básica", "Manga Corta", "Manga Larga", "Oversize", "Slim Fit", "Estampada",
                "a Rayas", "Cuello V", "Crop", "Relaxed", "Lisa", "Cuello Redondo"),
    "jeans": ("Skinny", "Mom", "Recto", "Tiro Alto", "Wide Leg", "Slim", "Bootcut"),
    "shoes": ("Urbanas", "Clásicas", "Chunky", "Lona", "Cuero", "Outdoor", "Slip On"),
    "home": ("Clásica", "Nórdica", "Rústica", "Premium", "Esencial", "Boho", "Minimal"),
}
_MATERIALS = {
    "apparel": ("Algodón", "Lino", "Algodón Orgánico", "Viscosa", "Lana Merino", "Poliéster", ""),
    "denim": ("Denim", "Denim Stretch", "Denim Rígido", ""),
    "shoes": ("Cuero", "Gamuza", "Lona", "Sintético", ""),
    "textile": ("Algodón 200 Hilos", "Percala 300 Hilos", "Microfibra", "Lino", "Terciopelo", ""),
    "kitchen": ("Acero Inoxidable", "Cerámica", "Hierro Fundido", "Vidrio", "Gres", ""),
    "decor": ("Cerámica", "Vidrio", "Bambú", "Soja", "Algodón", ""),
    "plain": ("",),
}


@dataclass(frozen=True)
class _Leaf:
    path: str
    nouns: tuple[str, ...]
    variants: str
    """A size table of _SIZES, `colour` (colours only) or `none` (no variants)."""
    styles: str
    materials: str
    cheapest: int
    dearest: int
    share: float


_LEAVES = (
    _Leaf("Mujer > Vestuario > Poleras", ("Polera",), "apparel", "apparel", "apparel",
          5990, 16990, 9),
    _Leaf("Mujer > Vestuario > Blusas", ("Blusa", "Camisa"), "apparel", "apparel", "apparel",
          12990, 29990, 5),
    _Leaf("Mujer > Vestuario > Jeans", ("Jeans",), "jeans", "jeans", "denim", 19990, 39990, 6),
    _Leaf("Mujer > Vestuario > Vestidos", ("Vestido",), "apparel", "apparel", "apparel",
          17990, 49990, 5),
    _Leaf("Mujer > Vestuario > Chaquetas", ("Chaqueta", "Parka", "Abrigo"), "apparel", "apparel",
          "apparel", 29990, 89990, 3),
    _Leaf("Mujer > Vestuario > Polerones", ("Polerón",), "apparel", "apparel", "apparel",
          14990, 29990, 4),
    _Leaf("Mujer > Ropa Interior > Pijamas", ("Pijama",), "apparel", "apparel", "apparel",
          12990, 24990, 3),
    _Leaf("Mujer > Calzado > Zapatillas", ("Zapatillas",), "shoes", "shoes", "shoes",
          24990, 69990, 4),
    _Leaf("Mujer > Calzado > Botines", ("Botines",), "shoes", "shoes", "shoes", 29990, 59990, 2),
    _Leaf("Mujer > Accesorios > Carteras", ("Cartera", "Bolso"), "colour", "home", "shoes",
          14990, 39990, 2),
    _Leaf("Hombre > Vestuario > Poleras", ("Polera",), "apparel", "apparel", "apparel",
          5990, 16990, 6),
    _Leaf("Hombre > Vestuario > Camisas", ("Camisa",), "apparel", "apparel", "apparel",
          14990, 29990, 4),
    _Leaf("Hombre > Vestuario > Jeans", ("Jeans",), "jeans", "jeans", "denim", 19990, 39990, 4),
    _Leaf("Hombre > Vestuario > Chaquetas", ("Chaqueta", "Parka"), "apparel", "apparel",
          "apparel", 29990, 89990, 2),
    _Leaf("Hombre > Vestuario > Polerones", ("Polerón",), "apparel", "apparel", "apparel",
          14990, 29990, 3),
    _Leaf("Hombre > Calzado > Zapatillas", ("Zapatillas",), "shoes", "shoes", "shoes",
          24990, 69990, 3),
    _Leaf("Niños > Niña > Vestuario", ("Polera", "Vestido", "Calza"), "kids", "apparel",
          "apparel", 4990, 14990, 3),
    _Leaf("Niños > Niño > Vestuario", ("Polera", "Short", "Buzo"), "kids", "apparel", "apparel",
          4990, 14990, 3),
    _Leaf("Niños > Bebé > Bodies", ("Body", "Pack Bodies"), "kids", "apparel", "apparel",
          3990, 12990, 2),
    _Leaf("Hogar > Dormitorio > Sábanas", ("Juego de Sábanas",), "bed", "home", "textile",
          14990, 44990, 3),
    _Leaf("Hogar > Dormitorio > Plumones", ("Plumón", "Quilt"), "bed", "home", "textile",
          24990, 79990, 2),
    _Leaf("Hogar > Dormitorio > Almohadas", ("Almohada",), "none", "home", "textile",
          5990, 19990, 2),
    _Leaf("Hogar > Baño > Toallas", ("Toalla", "Set de Toallas"), "colour", "home", "textile",
          4990, 19990, 2),
    _Leaf("Hogar > Cocina > Ollas", ("Batería de Cocina", "Olla", "Sartén"), "none", "home",
          "kitchen", 9990, 69990, 2),
    _Leaf("Hogar > Cocina > Vajilla", ("Set de Vajilla", "Taza", "Plato Hondo"), "colour", "home",
          "kitchen", 2990, 39990, 2),
    _Leaf("Hogar > Decoración > Cojines", ("Cojín",), "colour", "home", "textile",
          5990, 14990, 2),
    _Leaf("Hogar > Decoración > Velas", ("Vela Aromática",), "none", "home", "decor",
          2990, 9990, 1),
    _Leaf("Deporte > Running > Zapatillas", ("Zapatillas Running",), "shoes", "shoes", "plain",
          39990, 99990, 2),
    _Leaf("Deporte > Fitness > Accesorios", ("Mat de Yoga", "Botella", "Banda Elástica"),
          "colour", "home", "plain", 4990, 24990, 1),
    _Leaf("Belleza > Perfumería > Perfumes", ("Perfume", "Eau de Toilette"), "none", "home",
          "plain", 19990, 69990, 2),
)
_BRANDS = (
    BRAND, f"{BRAND} Home", "Kuyen", "Lafken", "Pewma", "Rayen", "Nahuel", "Antü", "Ayelen",
    "Millaray", "Calafate", "Chilco", "Maqui", "Quillay", "Boldo", "Litre", "Peumo", "Coigüe",
    "Raulí", "Arrayán", "Ulmo", "Tepa", "Canelo", "Lenga", "Notro", "Mañío", "Luma", "Tineo",
)
_QUOTED_NAME_EVERY = 97
"""Every so many products by popularity rank, a name like `Polera "Básica" | Algodón`."""
_PIPED_DESCRIPTION_EVERY = 53
"""Every so many products, descriptions like `Talla M | Negro`."""
_SECONDARY_CATEGORIES = (
    "Temporada > Otoño-Invierno 2026", "Temporada > Primavera-Verano 2026",
    "Colecciones > Esenciales", "Ofertas > Liquidación",
)


@dataclass(frozen=True)
class Catalog:
    line_cells: list[list[str]]
    """Per sale level and SKU: `ItemCode|ItemName|Brand|Description|Price|ListPrice|SellingPrice|
    ImageUrl|DetailUrl`, the middle of an OrderDetails row."""
    parent_cells: list[str]
    """ParentItemCode per SKU, blank for products without variants."""
    price: npt.NDArray[np.int64]
    """Unit price paid in cents, tax included, per sale level and SKU."""
    selling_price: npt.NDArray[np.int64]
    """The same without tax."""
    cumulative: npt.NDArray[np.float64]
    """Popularity CDF over SKUs."""
    web_seller: npt.NDArray[np.int64]
    """Seller index of each SKU on the web shop (own stock or a marketplace seller)."""
    categories: list[str]
    category_start: npt.NDArray[np.int64]
    """Index of each SKU's first category row in `sku_categories`."""
    category_count: npt.NDArray[np.int64]
    sku_categories: npt.NDArray[np.int64]
    """Indexes into `categories`, SKU after SKU."""

    @property
    def size(self) -> int:
        return len(self.parent_cells)

    def sample(self, rng: np.random.Generator, n: int) -> npt.NDArray[np.int64]:
        """SKUs drawn by popularity."""
        drawn = np.searchsorted(self.cumulative, rng.random(n), side="right")
        return np.minimum(drawn, self.size - 1).astype(np.int64)


def _zipf(n: int, exponent: float, offset: float) -> npt.NDArray[np.float64]:
    return normalised((np.arange(n, dtype=np.float64) + offset) ** -exponent)


def _slug(name: str) -> str:
    return "-".join(filter(None, (ascii_slug(w) for w in name.split())))


def _round_price(pesos: float) -> int:
    """Retail prices end in 990."""
    return max(990, int(pesos / 1000) * 1000 + 990)


@dataclass
class _Sku:
    code: str
    parent: str
    name: str
    brand: str
    description: str
    list_price: int
    image: str
    url: str
    weight: float
    web_seller: int
    categories: tuple[str, ...]


def _parent_skus(rng: np.random.Generator, rank: int, code: str, leaf: int,
                 brand: str) -> list[_Sku]:
    """The SKUs of one parent product: several sizes and colours, or just itself."""
    kind = _LEAVES[leaf]
    noun = kind.nouns[rng.integers(len(kind.nouns))]
    styles, materials = _STYLES[kind.styles], _MATERIALS[kind.materials]
    style = styles[rng.integers(len(styles))]
    material = materials[rng.integers(len(materials))]
    # Merchandisers type quotes and the delimiter into a few names; one is the 4th best seller.
    if rank % _QUOTED_NAME_EVERY == 3:
        name = f'{noun} "{style}" | {material or BRAND}'
    else:
        name = " ".join(filter(None, (noun, style, material)))
    list_price = _round_price(kind.cheapest + (kind.dearest - kind.cheapest) * rng.beta(1.5, 3.0))
    weight = float((rank + 5) ** -1.1)
    web_seller = WEB_OWN_SELLER if rng.random() < 0.85 else (
        WEB_OWN_SELLER + 1 + int(rng.integers(MARKETPLACE_SELLERS)))
    categories: tuple[str, ...] = (kind.path,)
    if rng.random() < 0.35:
        secondary = rng.integers(len(_SECONDARY_CATEGORIES) + 1)
        categories += (f"Marcas > {brand}" if secondary == len(_SECONDARY_CATEGORIES)
                       else _SECONDARY_CATEGORIES[secondary],)
    url = f"https://www.{DOMAIN}/{_slug(name)}/p/{code}"
    separator = " | " if rank % _PIPED_DESCRIPTION_EVERY == 7 else ", "

    def sku(sku_code: str, parent: str, description: str, colour: str, share: float) -> _Sku:
        return _Sku(sku_code, parent, name, brand, description, list_price,
                    f"https://img.{DOMAIN}/p/{code}/{colour or '1'}.jpg",
                    f"{url}?sku={sku_code}" if parent else url, weight * share, web_seller,
                    categories)

    if kind.variants == "none":
        return [sku(code, "", material, "", 1.0)]
    n_colours = int(rng.integers(1, 4))
    colour_ids = rng.choice(len(_COLOURS), size=n_colours, replace=False)
    colour_shares = normalised([1.0, 0.6, 0.35][:n_colours])
    if kind.variants == "colour":
        return [sku(f"{code}-{_COLOURS[c][1]}", code, f"Color {_COLOURS[c][0]}", _COLOURS[c][1],
                    float(s)) for c, s in zip(colour_ids, colour_shares, strict=True)]
    sizes = _SIZES[kind.variants]
    first = int(rng.integers(0, max(1, len(sizes) - 3)))
    kept = sizes[first:first + int(rng.integers(3, 6))]
    size_total = sum(w for _, w in kept)
    size_label = "" if kind.variants == "bed" else "Talla "
    return [
        sku(f"{code}-{_COLOURS[c][1]}-{ascii_slug(size).upper()}", code,
            f"{size_label}{size}{separator}{_COLOURS[c][0]}", _COLOURS[c][1],
            float(cs) * w / size_total)
        for c, cs in zip(colour_ids, colour_shares, strict=True) for size, w in kept
    ]


def build_catalog(rng: np.random.Generator, parents: int) -> Catalog:
    codes = 1_000_000 + rng.choice(9_000_000, size=parents, replace=False)
    ranks = rng.permutation(parents)
    leaves = rng.choice(len(_LEAVES), size=parents, p=normalised([leaf.share for leaf in _LEAVES]))
    brands = rng.choice(len(_BRANDS), size=parents, p=_zipf(len(_BRANDS), 1.2, 1.0))
    skus = [s for p in range(parents)
            for s in _parent_skus(rng, int(ranks[p]), str(codes[p]), int(leaves[p]),
                                  _BRANDS[brands[p]])]
    weights = np.array([s.weight for s in skus])
    list_price = np.array([s.list_price * 100 for s in skus], dtype=np.int64)
    off = np.array(SALE_LEVELS, dtype=np.float64)[:, None] / 100
    # Sale prices are rounded to whole tens of pesos.
    price = (np.rint(list_price[None, :] * (1 - off) / 1000) * 1000).astype(np.int64)
    selling = np.rint(price / (1 + TAX_RATE)).astype(np.int64)
    heads = [f"{s.code}|{quote(s.name)}|{quote(s.brand)}|{quote(s.description)}" for s in skus]
    tails = [f"{s.image}|{s.url}" for s in skus]
    list_cells = [money(int(c)) for c in list_price]
    line_cells = [
        [f"{h}|{money(int(p))}|{lc}|{money(int(sp))}|{t}"
         for h, p, lc, sp, t in zip(heads, price[k], list_cells, selling[k], tails, strict=True)]
        for k in range(len(SALE_LEVELS))
    ]
    vocabulary: dict[str, int] = {}
    sku_categories = [vocabulary.setdefault(c, len(vocabulary)) for s in skus for c in s.categories]
    count = np.array([len(s.categories) for s in skus], dtype=np.int64)
    return Catalog(
        line_cells=line_cells,
        parent_cells=[s.parent for s in skus],
        price=price,
        selling_price=selling,
        cumulative=np.cumsum(normalised(weights)),
        web_seller=np.array([s.web_seller for s in skus], dtype=np.int64),
        categories=[quote(c) for c in vocabulary],
        category_start=np.cumsum(count) - count,
        category_count=count,
        sku_categories=np.array(sku_categories, dtype=np.int64),
    )
