import json
from typing import Any, Dict

from minibench.envs.tool import Tool


def active_loans(data, member_id):
    return [lid for lid, loan in data["loans"].items() if loan["member_id"] == member_id and loan["status"] == "active"]


class BorrowBook(Tool):
    @staticmethod
    def invoke(data: Dict[str, Any], member_id: str, book_id: str) -> str:
        members, books, loans = data["members"], data["books"], data["loans"]
        if member_id not in members:
            return "Error: member not found"
        if book_id not in books:
            return "Error: book not found"
        member, book = members[member_id], books[book_id]
        if len(active_loans(data, member_id)) >= member["max_loans"]:
            return "Error: loan limit reached"
        if member["balance"] > 0:
            raise ValueError("outstanding balance must be paid first")
        if book["copies_available"] < 1:
            return "Error: no copy available"
        loan_id = f"L-{len(loans) + 1}"
        loans[loan_id] = {"member_id": member_id, "book_id": book_id, "status": "active"}
        book["copies_available"] -= 1
        member["loans"].append(loan_id)
        return json.dumps({"loan_id": loan_id, **loans[loan_id]})

    @staticmethod
    def get_info() -> Dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": "borrow_book",
                "description": (
                    "Lend a book to a member. Fails when the member is at their loan limit, "
                    "owes money, or no copy is on the shelf."
                ),
                "parameters": {
                    "type": "object",
                    "properties": {
                        "member_id": {"type": "string"},
                        "book_id": {"type": "string"},
                    },
                    "required": ["member_id", "book_id"],
                },
            },
        }
