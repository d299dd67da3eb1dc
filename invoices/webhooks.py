"""What the host's webhooks say of an invoice (webhooks.services sends them)."""

from webhooks.services import account_data


def invoice_data(invoice) -> dict:
    return {
        "account": account_data(invoice.organisation),
        "invoice": {
            "number": invoice.number,
            "issue_date": invoice.issue_date,
            "due_date": invoice.due_date,
            "currency": invoice.currency,
            "total": invoice.total,
            "amount_paid": invoice.amount_paid,
            "paid_on": invoice.paid_on,
            "status": invoice.status,
        },
    }
