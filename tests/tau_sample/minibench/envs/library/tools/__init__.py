from .borrow_book import BorrowBook
from .find_member_by_email import FindMemberByEmail
from .get_book import GetBook
from .get_member import GetMember
from .list_loans import ListLoans
from .return_book import ReturnBook
from .transfer_to_librarian import TransferToLibrarian

ALL_TOOLS = [BorrowBook, FindMemberByEmail, GetBook, GetMember, ListLoans, ReturnBook, TransferToLibrarian]
