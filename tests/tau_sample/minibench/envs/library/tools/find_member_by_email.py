from typing import Any, Dict

from minibench.envs.tool import Tool


class FindMemberByEmail(Tool):
    @staticmethod
    def invoke(data: Dict[str, Any], email: str) -> str:
        for member_id, member in data["members"].items():
            if member["email"].lower() == email.strip().lower():
                return member_id
        return "Error: member not found"

    @staticmethod
    def get_info() -> Dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": "find_member_by_email",
                "description": "Find a member's id by their email address.",
                "parameters": {
                    "type": "object",
                    "properties": {"email": {"type": "string", "description": "The member's email."}},
                    "required": ["email"],
                },
            },
        }
