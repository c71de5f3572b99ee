import json
from typing import Any, Dict

from minibench.envs.tool import Tool


def active_loans(data, member_id):
    return [lid for lid, loan in data["loans"].items() if loan["member_id"] == member_id and loan["status"] == "active"]


class ListLoans(Tool):
    @staticmethod
    def invoke(data: Dict[str, Any], member_id: str) -> str:
        titles = {}
        for loan_id in active_loans(data, member_id):
            book = data["books"][data["loans"][loan_id]["book_id"]]
            titles[loan_id] = book["title"]
        return json.dumps(titles)

    @staticmethod
    def get_info() -> Dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": "list_loans",
                "description": "The member's active loans: loan id -> book title.",
                "parameters": {
                    "type": "object",
                    "properties": {"member_id": {"type": "string"}},
                    "required": ["member_id"],
                },
            },
        }
