"""Use case: the products a product points at exist, and chains of successors and of kits
never come back to it."""

from __future__ import annotations

from typing import Final

from skuhub_catalog.domain.product import InvalidProductError, Product, RelationKind
from skuhub_catalog.service_layer.ports import ProductRepository

MAX_WALK: Final = 10_000
"""Products a cycle check visits at most (a chain or a kit tree that long is refused)."""


async def check_relations(
    repo: ProductRepository, product: Product, before: Product | None
) -> None:
    """Refuse a related SKU newly named that does not exist (or is deleted), a successor
    chain that comes back to the product, and a kit whose components contain it.

    Raises:
        InvalidProductError: naming ``relations.<kind>`` or ``kit_components``.
    """
    for kind, skus in product.relations.items():
        known = before.relations.get(kind, ()) if before is not None else ()
        for sku in skus:
            if sku not in known:
                found = await repo.get(sku)
                if found is None or found.deleted:
                    raise InvalidProductError(
                        f"no product {sku} to be the {kind.value} of {product.sku}",
                        field=f"relations.{kind.value}",
                    )
    await _no_successor_cycle(repo, product)
    await _no_kit_cycle(repo, product)


async def _no_successor_cycle(repo: ProductRepository, product: Product) -> None:
    chain = [product.sku]
    successor = _successor(product)
    while successor is not None:
        if successor in chain:
            raise InvalidProductError(
                f"{' → '.join([*chain, successor])}: a product cannot be replaced, through its "
                "successors, by itself",
                field="relations.replacement",
            )
        if len(chain) > MAX_WALK:
            raise InvalidProductError("the chain of successors is too long", field="relations")
        chain.append(successor)
        found = await repo.get(successor)
        successor = _successor(found) if found is not None else None


async def _no_kit_cycle(repo: ProductRepository, product: Product) -> None:
    """Walk down the components that exist: a kit may name parts created later, which are
    checked when they are saved."""
    seen: set[str] = set()
    waiting = [(c.sku, c.sku) for c in product.kit_components]
    while waiting:
        sku, via = waiting.pop()
        if sku == product.sku:
            raise InvalidProductError(
                f"{product.sku} would contain itself through component {via}",
                field="kit_components",
            )
        if sku in seen:
            continue
        seen.add(sku)
        if len(seen) > MAX_WALK:
            raise InvalidProductError(
                "the kit's components are too many levels", field="kit_components"
            )
        found = await repo.get(sku)
        if found is not None:
            waiting += [(c.sku, via) for c in found.kit_components]


def _successor(product: Product) -> str | None:
    replacement = product.relations.get(RelationKind.REPLACEMENT, ())
    return replacement[0] if replacement else None
