"""Why a bank returned or refused a direct debit, in plain words for the account owner.

The codes are the ISO 20022 external reason codes the EPC SEPA Direct Debit rulebooks use
for R-transactions (rejects, refusals, returns, refunds), as banks report them in camt
statements (`RtrInf/Rsn/Cd`). An unknown code is shown as it is, with a general sentence.
"""

from django.utils.translation import gettext_lazy as _

REASONS = {
    "AC01": _("Le numéro de compte (IBAN) est incorrect."),
    "AC04": _("Le compte bancaire est clôturé."),
    "AC06": _("Le compte est bloqué, ou bloqué pour les prélèvements."),
    "AC13": _("Le compte est un compte de particulier : il ne peut pas payer en SEPA B2B."),
    "AG01": _("Ce type de compte n'accepte pas les prélèvements."),
    "AG02": _("La banque n'accepte pas ce type d'opération."),
    "AM04": _("Le compte n'était pas suffisamment approvisionné."),
    "AM05": _("La banque a vu ce prélèvement en double."),
    "BE05": _("La banque ne reconnaît pas l'identifiant de créancier."),
    "CNOR": _("La banque du créancier n'a pas pu être jointe."),
    "DNOR": _("La banque du compte débité n'a pas pu être jointe."),
    "FF01": _("Le fichier de prélèvements était invalide."),
    "MD01": _("La banque ne connaît pas de mandat valide pour ce prélèvement."),
    "MD02": _("Les données du mandat sont incomplètes ou incorrectes."),
    "MD06": _("Vous avez demandé à votre banque le remboursement de ce prélèvement."),
    "MD07": _("Le titulaire du compte est décédé."),
    "MS02": _("Le titulaire du compte a refusé ce prélèvement."),
    "MS03": _("La banque n'a pas donné de raison."),
    "RC01": _("Le code BIC de la banque est incorrect."),
    "RR01": _("Des informations réglementaires manquaient sur le titulaire du compte."),
    "RR02": _("Le nom ou l'adresse du titulaire du compte manquait."),
    "RR03": _("Le nom ou l'adresse du créancier manquait."),
    "RR04": _("Raison réglementaire."),
    "SL01": _(
        "Votre banque a bloqué ce prélèvement (opposition, liste de créanciers autorisés "
        "ou montant maximum)."
    ),
}
UNKNOWN = _("La banque a rejeté le prélèvement (code %(code)s).")
NO_CODE = _("La banque a rejeté le prélèvement sans donner de raison.")


def reason_text(code: str) -> str:
    """The owner's sentence for a bank's reason code, in the active language."""
    code = (code or "").strip().upper()
    if not code:
        return str(NO_CODE)
    if code in REASONS:
        return str(REASONS[code])
    return str(UNKNOWN) % {"code": code}
