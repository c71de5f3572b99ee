"""The shop's tools as typed Python functions: the same logic as shop_dsl's declarative effects."""

from __future__ import annotations

from typing import Any

from baton.tools import ToolError, tool

Db = dict[str, dict[str, dict[str, Any]]]


def _order(db: Db, order_id: str) -> dict[str, Any]:
    order = db["orders"].get(order_id)
    if order is None:
        raise ToolError(f'no order with id "{order_id}"')
    return order


@tool(writes=False)
def get_order(db: Db, order_id: str) -> dict[str, Any]:
    """The order with this id, exactly as written (e.g. '#W100')."""
    return {"id": order_id, **_order(db, order_id)}


@tool(writes=False)
def find_orders_by_zip(db: Db, zip: str) -> list[dict[str, Any]]:
    """Orders shipped to this zip code."""
    return [{"id": oid, **order} for oid, order in db["orders"].items()
            if str(order["address"]["zip"]).strip().casefold() == zip.strip().casefold()]


@tool(writes=True)
def cancel_order(db: Db, order_id: str, reason: str) -> dict[str, Any]:
    """Cancel a pending order; gift-card payments are refunded to the gift card at once."""
    order = _order(db, order_id)
    if order["status"] != "pending":
        raise ToolError(f"order {order_id} is {order['status']}, not pending")
    if reason not in ("no longer needed", "ordered by mistake"):
        raise ToolError(f"invalid reason '{reason}'")
    refunds = [{"kind": "refund", "amount": p["amount"], "method": p["method"]}
               for p in order["payment_history"] if p["kind"] == "payment"]
    order["status"] = "cancelled"
    order["cancel_reason"] = reason
    order["payment_history"].extend(refunds)
    for method in db["users"][order["user_id"]]["payment_methods"].values():
        if method["source"] == "gift_card":
            back = sum(r["amount"] for r in refunds if r["method"] == method["id"])
            method["balance"] = round(method["balance"] + back, 2)
    return {"order_id": order_id, "status": "cancelled",
            "refunded": round(sum(r["amount"] for r in refunds), 2)}


@tool(writes=True)
def return_items(db: Db, order_id: str, item_ids: list[str], payment_method_id: str) -> dict[str, Any]:
    """Request the return of delivered items; the refund goes to a payment method of the order's owner."""
    order = _order(db, order_id)
    if order["status"] != "delivered":
        raise ToolError(f"order {order_id} is {order['status']}, not delivered")
    in_order = [item["item_id"] for item in order["items"]]
    if not item_ids or any(i not in in_order for i in item_ids):
        raise ToolError(f"some items are not in order {order_id}")
    if payment_method_id not in db["users"][order["user_id"]]["payment_methods"]:
        raise ToolError(f"payment method {payment_method_id} is not the customer's")
    order["status"] = "return requested"
    order["return_items"] = sorted(item_ids)
    order["return_payment_method_id"] = payment_method_id
    for item in order["items"]:
        if item["item_id"] in item_ids:
            item["status"] = "return requested"
    return {"order_id": order_id, "status": "return requested",
            "refund_amount": round(sum(i["price"] for i in order["items"] if i["item_id"] in item_ids), 2)}


@tool(writes=True)
def exchange_item(db: Db, order_id: str, item_id: str, new_item_id: str) -> dict[str, Any]:
    """Exchange a delivered item for another variant of the same product; the price difference is charged or refunded."""
    order = _order(db, order_id)
    if order["status"] != "delivered":
        raise ToolError(f"order {order_id} is {order['status']}, not delivered")
    item = next((i for i in order["items"] if i["item_id"] == item_id), None)
    if item is None:
        raise ToolError(f"item {item_id} is not in order {order_id}")
    variants = db["products"][item["product_id"]]["variants"]
    if new_item_id not in variants or not variants[new_item_id]["available"]:
        raise ToolError(f"item {new_item_id} is not available")
    new_price = variants[new_item_id]["price"]
    order["payment_history"].append({"kind": "adjustment", "amount": round(new_price - item["price"], 2),
                                     "method": "exchange"})
    item["item_id"], item["price"] = new_item_id, new_price
    return {"order_id": order_id, "new_item_id": new_item_id, "price": new_price}


@tool(writes=True)
def modify_address(db: Db, order_id: str, city: str, zip: str) -> dict[str, Any]:
    """Change the shipping address of a pending order."""
    order = _order(db, order_id)
    if order["status"] != "pending":
        raise ToolError(f"order {order_id} is {order['status']}, not pending")
    order["address"]["city"], order["address"]["zip"] = city, zip
    return {"order_id": order_id, "address": order["address"]}
