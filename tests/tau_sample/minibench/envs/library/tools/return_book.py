import json
from typing import Any, Dict

from minibench.envs.tool import Tool

LATE_FEE_PER_DAY = 0.25


class ReturnBook(Tool):
    @staticmethod
    def invoke(data: Dict[str, Any], loan_id: str, days_late: int = 0) -> str:
        loan = data["loans"].get(loan_id)
        if loan is None or loan["status"] != "active":
            return "Error: no active loan with this id"
        loan["status"] = "returned"
        data["books"][loan["book_id"]]["copies_available"] += 1
        member = data["members"][loan["member_id"]]
        member["loans"] = [lid for lid in member["loans"] if lid != loan_id]
        fee = round(days_late * LATE_FEE_PER_DAY, 2)
        if fee > 0:
            member["fees"].append({"loan_id": loan_id, "amount": fee})
            member["balance"] = round(member["balance"] + fee, 2)
        return json.dumps({"loan_id": loan_id, "fee": fee, "balance": member["balance"]})

    @staticmethod
    def get_info() -> Dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": "return_book",
                "description": "Check a loaned book back in; a late return adds a fee to the member's balance.",
                "parameters": {
                    "type": "object",
                    "properties": {
                        "loan_id": {"type": "string"},
                        "days_late": {"type": "integer", "description": "Days past the due date."},
                    },
                    "required": ["loan_id"],
                },
            },
        }
