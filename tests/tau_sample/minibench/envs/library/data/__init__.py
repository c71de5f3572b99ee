import json
import os

FOLDER = os.path.dirname(__file__)


def load_data():
    return {name: json.load(open(os.path.join(FOLDER, f"{name}.json"))) for name in ("members", "books", "loans")}
