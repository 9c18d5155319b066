"""How orders are paid: method, description, issuer and instalments, `##`-joined when split."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import numpy.typing as npt

from clientela.generate.chance import normalised
from clientela.generate.stores import BRAND
from clientela.schema.records import LIST_SEPARATOR

_ISSUERS = (
    ("BancoEstado", 0.22), ("Banco de Chile", 0.2), ("Santander", 0.18), ("BCI", 0.12),
    ("Banco Falabella", 0.08), ("Scotiabank", 0.08), ("Itaú", 0.06), (f"Tarjeta {BRAND}", 0.06),
)
_TERMS = (("1CUOTA", 0.4), ("3CUOTAS", 0.3), ("6CUOTAS", 0.15), ("12CUOTAS", 0.1),
          ("3CUOTASPRECIOCONTADO", 0.05))


@dataclass(frozen=True)
class Payments:
    cells: list[str]
    """`PaymentMethod|PaymentMethodDetail|PaymentMethodEntity|PaymentTerms`, pre-joined."""
    store_p: npt.NDArray[np.float64]
    web_p: npt.NDArray[np.float64]


def build_payments() -> Payments:
    rows: list[tuple[tuple[str, ...], tuple[str, ...], tuple[str, ...], str, float, float]] = []

    def add(methods: tuple[str, ...], details: tuple[str, ...], entities: tuple[str, ...],
            terms: str, store: float, web: float) -> None:
        rows.append((methods, details, entities, terms, store, web))

    add(("EFECTIVO",), ("Efectivo",), ("",), "", 0.18, 0.0)
    add(("MERCADOPAGO",), ("Mercado Pago",), ("Mercado Pago",), "", 0.0, 0.12)
    add(("GIFTCARD",), ("Gift card",), (BRAND,), "", 0.03, 0.03)
    for issuer, share in _ISSUERS:
        add(("DEBITO",), ("Tarjeta de débito",), (issuer,), "", 0.37 * share, 0.0)
        add(("DEBITO",), ("Webpay Plus débito",), (issuer,), "", 0.0, 0.28 * share)
        add(("TRANSFERENCIA",), ("Transferencia bancaria",), (issuer,), "", 0.0, 0.05 * share)
        for terms, term_share in _TERMS:
            add(("CREDITO",), ("Tarjeta de crédito",), (issuer,), terms,
                0.33 * share * term_share, 0.0)
            add(("CREDITO",), ("Webpay Plus crédito",), (issuer,), terms,
                0.0, 0.42 * share * term_share)
            # Split payments: a gift card pays part, a credit card the rest.
            add(("GIFTCARD", "CREDITO"), ("Gift card", "Tarjeta de crédito"), (BRAND, issuer),
                terms, 0.04 * share * term_share, 0.05 * share * term_share)
        add(("EFECTIVO", "DEBITO"), ("Efectivo", "Tarjeta de débito"), ("", issuer), "",
            0.03 * share, 0.0)
    cells = [
        "|".join((LIST_SEPARATOR.join(m), LIST_SEPARATOR.join(d), LIST_SEPARATOR.join(e), t))
        for m, d, e, t, _, _ in rows
    ]
    store = np.array([r[4] for r in rows])
    web = np.array([r[5] for r in rows])
    return Payments(cells, normalised(store), normalised(web))
