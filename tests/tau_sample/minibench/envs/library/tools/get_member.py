import json
from typing import Any, Dict

from minibench.envs.tool import Tool


class GetMember(Tool):
    @staticmethod
    def invoke(data: Dict[str, Any], member_id: str) -> str:
        if member_id not in data["members"]:
            return "Error: member not found"
        return json.dumps(data["members"][member_id])

    @staticmethod
    def get_info() -> Dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": "get_member",
                "description": "A member's profile: name, email, loans, fees and balance.",
                "parameters": {
                    "type": "object",
                    "properties": {"member_id": {"type": "string"}},
                    "required": ["member_id"],
                },
            },
        }
