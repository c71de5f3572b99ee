from minibench.types import Action, Task

TASKS_TEST = [
    Task(
        annotator="t",
        user_id="mia_lund_01",
        instruction="You are Mia Lund (mia.lund@example.org). You want to borrow 'A Field Guide to Moss' (B-300).",
        actions=[
            Action(name="find_member_by_email", kwargs={"email": "mia.lund@example.org"}),
            Action(name="get_book", kwargs={"book_id": "B-300"}),
            Action(name="borrow_book", kwargs={"member_id": "mia_lund_01", "book_id": "B-300"}),
            Action(name="respond", kwargs={"content": "Done: loan L-4."}),
        ],
        outputs=["L-4"],
    ),
    Task(
        user_id="omar_sayed_02",
        instruction="You are Omar Sayed (omar@example.org). You return 'Tides of Glass' 4 days late and then want to borrow B-100.",
        actions=[
            Action(name="find_member_by_email", kwargs={"email": "omar@example.org"}),
            Action(name="list_loans", kwargs={"member_id": "omar_sayed_02"}),
            Action(name="return_book", kwargs={"loan_id": "L-2", "days_late": 4}),
            Action(name="borrow_book", kwargs={"member_id": "omar_sayed_02", "book_id": "B-100"}),
        ],
        outputs=["2.5"],
    ),
    Task(
        user_id="mia_lund_01",
        instruction="You are Mia Lund. You want 'Tides of Glass'; if it is not on the shelf, ask for a librarian.",
        actions=[
            Action(name="borrow_book", kwargs={"member_id": "mia_lund_01", "book_id": "B-200"}),
            Action(name="transfer_to_librarian", kwargs={"summary": "Wants B-200, no copy available."}),
        ],
        outputs=[],
    ),
    Task(
        user_id="omar_sayed_02",
        instruction="You are Omar Sayed. You ask which books you currently have.",
        actions=[Action(name="list_loans", kwargs={"member_id": "omar_sayed_02"})],
        outputs=["Tides of Glass", "A Field Guide to Moss"],
    ),
]
