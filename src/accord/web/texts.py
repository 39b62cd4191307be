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
