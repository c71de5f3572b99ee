import json
from typing import Any, Dict

from minibench.envs.tool import Tool


class GetBook(Tool):
    @staticmethod
    def invoke(data: Dict[str, Any], book_id: str) -> str:
        book = data["books"].get(book_id)
        if book is None:
            return "Error: book not found"
        return json.dumps(book)

    @staticmethod
    def get_info() -> Dict[str, Any]:
        return {
            "type": "function",
            "function": {
                "name": "get_book",
                "description": "A book's title and how many copies are on the shelf.",
                "parameters": {
                    "type": "object",
                    "properties": {"book_id": {"type": "string", "description": "Such as 'B-100'."}},
                    "required": ["book_id"],
                },
            },
        }
