"""The texts the web edge writes from Python (the templates hold their own, for now)."""

CSRF_REFUSED = "This form has expired or did not come from Accord. Reload the page and try again."
SIGN_IN_REFUSED = "Wrong login or password"
SIGN_IN_LOCKED = "Too many failed sign-ins. Try again in {seconds} seconds."
SIGN_IN_EXPIRED = "The sign-in form expired. Please try again."
FORM_TOO_LARGE = "The form is too large."
FORM_NOT_FORM = "Send the form as a web form (application/x-www-form-urlencoded)."
STALE_EDIT = (
    "Someone else saved this entry while you were editing it (it is now at version"
    " {version}). Your changes are kept below; the fields they changed show what is saved"
    " now. Save again to apply your changes on top of theirs."
)
FIX_ERRORS = "Nothing was saved: fix the fields marked below."
YES = "Yes"
NO = "No"

# Search everywhere (the box in every page's header, its dropdown and its page)
SEARCH_LABEL = "Search everywhere"
SEARCH_PLACEHOLDER = "Search (press /)"
SEARCH_BUTTON = "Search"
SEARCH_TITLE = "Search"
SEARCH_HEADING = "Search everywhere"
SEARCH_HINT = "Type a few letters of a name or of any text field; every word must appear."
SEARCH_NOTHING = "Nothing found for “{q}”."
SEARCH_MORE = "All matches in {directory}"
SEARCH_SEE_ALL = "See all results"

# Link pickers (a link field of the edit form)
PICK_HINT = "The name of an entry of {directory}{several}: type a few letters to pick one."
PICK_SEVERAL = " (several: separated by commas)"
PICK_OPTIONS = "Entries of {directory}"
PICK_NOTHING = "No entry of {directory} holds this."

# Bulk actions on the rows selected in a list
BULK_NONE_SELECTED = "Select at least one entry first."
BULK_TOO_MANY = "Select at most {} entries at a time."
BULK_BAD_ID = "A selected row names no entry."
BULK_UNKNOWN_ACTION = "Choose what to do with the selected entries."
BULK_UNKNOWN_FIELD = "Choose a field that entries hold (not a computed one)."

# The board (a directory's entries in columns by a dictionary field)
BOARD = "Board"
BOARD_TITLE = "{directory} by {field}"
BOARD_GROUP_BY = "Group by"
BOARD_SHOW = "Show"
BOARD_NONE = "(none)"
BOARD_EMPTY_COLUMN = "No entries."
BOARD_MORE = "All entries in {column}"
BOARD_MOVE_TO = "Move {name} to"
BOARD_MOVE = "Move"
BOARD_NO_FIELD = "{directory} has no field with one value of a dictionary to group its entries by."
BOARD_NOT_GROUPABLE = (
    "Field '{field}' cannot group a board: pick a field holding one value of a dictionary."
)
BOARD_TOO_MANY_COLUMNS = "Only the first {count} values of {field} are shown as columns."
BOARD_STALE = (
    "{name} was changed by someone else while you were looking (it is now at version"
    " {version}): nothing was moved. The board below is as saved now; move it again if"
    " you still want to."
)
BOARD_HINT = "Drag a card to another column, or choose its column and press Move."

# Administration (users, groups, rights, the API key) and personal API tokens
ADMIN_NOTICES = {
    "user-added": "The user was added.",
    "enabled": "The user is enabled.",
    "disabled": "The user is disabled: their sessions and tokens stop working.",
    "password": "The password is set; the user's sessions have ended.",
    "group-added": "The group was added.",
    "member-added": "The member was added.",
    "member-removed": "The member was removed.",
    "granted": "The right was granted.",
    "revoked": "The right was revoked.",
    "token-revoked": "The token was revoked: it no longer works.",
}
"""Confirmations after a change, named in the redirect's `done` parameter."""
PASSWORDS_DIFFER = "The two passwords differ."
TOKEN_DAYS = "A number of days from 1 to {days}, or empty for no expiry."
