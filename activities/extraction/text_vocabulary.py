"""The vocabulary of invoice labels in English, German, French and Dutch: for each role (the
field a label introduces, or a known other field), its phrases and how strongly each speaks for
it. Phrases are written as normalised words: no case, no accents, `ß` as `ss`. A phrase marked
"!" takes its value from its own line only; one marked "^" is a label only at a line's start.
"""

from __future__ import annotations

from typing import Literal

ValueKind = Literal["code", "date", "amount", "currency", "percent", "party"]

ROLE_KINDS: dict[str, ValueKind] = {
    "invoice_number": "code",
    "po_number": "code",
    "other_code": "code",
    "invoice_date": "date",
    "due_date": "date",
    "other_date": "date",
    "total": "amount",
    "net": "amount",
    "linesum": "amount",
    "tax": "amount",
    "amount_due": "amount",
    "other_amount": "amount",
    "currency": "currency",
    "rate": "percent",
    "seller": "party",
    "buyer": "party",
    "delivery": "party",
    "payee": "party",
    "section": "party",
}

# (phrase, strength); "!" before a phrase: its value must be on the same line.
LABELS: dict[str, tuple[tuple[str, float], ...]] = {
    "invoice_number": (
        *(
            (phrase, 1.0)
            for phrase in (
                "rechnungsnummer", "rechnungs nummer", "rechnungsnr", "rechnungs nr",
                "rechnung nr", "rechnung nummer", "rechnung #", "rechnungs #",
                "invoice number", "invoice no", "invoice nr", "invoice #", "invoice num",
                "invoice id", "inv no", "invoice ref", "bill no", "bill number",
                "numero de facture", "n ° de facture", "no de facture", "numero facture",
                "facture n °", "facture no", "facture numero", "facture #", "n ° facture",
                "factuurnummer", "factuur nummer", "factuurnr", "factuur nr", "factuur #",
                "gutschriftsnummer", "gutschrift nr", "credit note number", "credit note no",
                "avoir n °", "nota number", "document number", "document no",
                "re nr", "rg nr", "rechn nr", "fact n °", "fact no", "inv #", "invoice nbr",
            )
        ),
        *((phrase, 0.6) for phrase in ("belegnummer", "belegnr", "beleg nr", "receipt no")),
        *((phrase, 0.6) for phrase in ("receipt number", "receipt #", "bon n °")),
        *(
            (f"!{phrase}", 0.5)
            for phrase in ("rechnung", "invoice", "facture", "factuur", "gutschrift", "avoir")
        ),
        *((phrase, 0.4) for phrase in ("booking id", "booking no", "booking number")),
        *((phrase, 0.4) for phrase in ("reservation no", "reservation number")),
    ),
    "invoice_date": (
        *(
            (phrase, 1.0)
            for phrase in (
                "rechnungsdatum", "rechnungs datum", "datum der rechnung", "invoice date",
                "date of invoice", "invoice dated", "date de facture", "date de la facture",
                "date facture", "date d emission", "factuurdatum", "factuur datum",
                "belegdatum", "ausstellungsdatum", "gutschriftsdatum", "issue date",
                "tax point", "tax point date", "rechnungs datum",
                "date of issue", "billing date", "date de facturation", "datum factuur",
            )
        ),
        *((f"!{phrase}", 0.8) for phrase in ("issued at", "issued on", "ausgestellt am")),
        *((phrase, 0.6) for phrase in ("datum", "date", "dated", "date :")),
    ),
    "due_date": (
        *(
            (phrase, 1.0)
            for phrase in (
                "due date", "faelligkeitsdatum", "falligkeitsdatum", "falligkeit", "fallig am",
                "fallig bis", "zahlungsziel", "zahlbar bis", "zahlbar am", "payment due",
                "payment due date", "due by", "due on", "pay by", "payable by",
                "payable until", "date d echeance", "echeance", "date limite de paiement",
                "date limite", "a payer avant le", "a regler avant le", "vervaldatum",
                "vervaldag", "uiterste betaaldatum", "te betalen voor", "betalen voor",
                "please remit until", "remit until", "remit by", "zu zahlen bis",
                "payable before", "due before", "zahlbar am", "a payer avant",
            )
        ),
        ("due", 0.6),
        *((phrase, 0.6) for phrase in ("prelevement a partir du", "date de prelevement")),
    ),
    "po_number": (
        *(
            (phrase, 0.9)
            for phrase in (
                "bestellnummer", "bestell nr", "bestellnr", "bestellung", "ihre bestellung",
                "ihre bestellnummer", "ihre bestellnr", "po number", "po no", "po nr", "po #",
                "p o number", "p o no", "purchase order", "purchase order number",
                "purchase order no", "customer order", "customer order no", "your order",
                "your order no", "your order number", "bon de commande", "n ° de commande",
                "numero de commande", "votre commande", "commande n °", "bestelnummer",
                "inkoopordernummer", "inkooporder", "uw bestelling", "uw ordernummer",
                "order number", "order no", "ordernummer", "auftragsnummer", "auftrag nr",
            )
        ),
        *(
            (phrase, 0.5)
            for phrase in (
                "your reference", "your ref", "votre reference", "votre ref", "uw referentie",
                "ihre referenz", "ihr zeichen", "referenz des kaufers", "buyer reference",
            )
        ),
        *((phrase, 0.3) for phrase in ("order", "commande")),
    ),
    "other_code": tuple(
        (phrase, 1.0)
        for phrase in (
            "kundennummer", "kunden nr", "kundennr", "customer no", "customer number",
            "customer id", "account number", "account no", "account",
            "klantnummer", "klantnr", "numero client", "n ° client", "id client",
            "reference client", "code client", "steuernummer", "steuer nr", "steuernr",
            "tax number", "tax id", "lieferschein nr", "lieferscheinnummer", "lieferavis",
            "reference", "referenz", "ref", "weitere referenz", "vertragsnummer", "contract no",
            "mandatsreferenz", "ihre nummer", "nummer", "globale nummer", "gln", "gtin", "iban",
            "bic", "blz", "swift", "kontonr", "konto nr", "handelsregisternummer", "hrb", "hra",
            "siret", "siren", "ape", "kvk", "rcs", "ust id nr", "ust idnr", "ustid", "ust id",
            "ust identnr", "umsatzsteuer id", "vat number", "vat no", "vat id",
            "vat reg no", "vat registration number", "n ° tva", "numero de tva",
            "tva intracommunautaire", "n ° de tva intra communautaire", "btw nummer", "btw nr",
            "uw btw nummer", "gstin", "cin", "order id", "booking", "rapport nr",
            "ursprungsbeleg nr", "reklamationsnummer", "lief nr", "abteilung",
            "handelsname", "zahlungsreferenz", "payment reference", "mandate", "art nr",
            "telefon", "tel", "phone", "fax", "contract", "numero de dossier", "id",
        )
    ),
    "other_date": tuple(
        (phrase, 1.0)
        for phrase in (
            "leistungsdatum", "lieferdatum", "liefer und leistungsdatum", "order date",
            "orderdatum", "bestelldatum", "bestell datum", "lieferschein datum",
            "delivery date", "date of delivery", "date de livraison", "leverdatum",
            "check in", "check out", "billing period", "abrechnungszeitraum",
            "berechnungszeitraum", "leistungszeitraum", "liefer leistungszeitraum", "zeitraum",
            "periode", "gultig ab", "period", "datum levering", "date de commande",
            "shipping date", "ship date",
        )
    ),
    "total": (
        *(
            (phrase, 1.0)
            for phrase in (
                "gesamtbetrag", "gesamtsumme", "bruttobetrag", "bruttosumme", "rechnungsbetrag",
                "rechnungssumme brutto", "rechnungssumme", "summe inkl ust", "summe inkl mwst",
                "summe brutto", "gesamt brutto", "endbetrag", "endsumme", "gesamtbetrag brutto",
                "grand total", "invoice total", "total amount", "total for this invoice",
                "total incl vat", "total including vat", "total inkl mwst", "total inkl ust",
                "gross amount", "gross total", "total ttc", "montant ttc", "total facture",
                "montant total", "totaal", "totaalbedrag", "factuur totaal", "totaal incl btw",
                "factuurbedrag", "total gross", "total inc vat", "total incl tax",
                "rechnungsendbetrag", "gesamtpreis", "montant a payer",
                "total including tax", "total inc tax", "amount incl vat", "total tax incl",
            )
        ),
        ("total", 0.8),
        ("brutto", 0.7),
        ("gesamt", 0.7),
        ("summe", 0.6),
    ),
    "amount_due": tuple(
        (phrase, 1.0)
        for phrase in (
            "zahlbetrag", "zu zahlen", "zahlungsbetrag", "offener betrag", "restbetrag",
            "amount due", "total due", "balance due", "amount payable", "total payable",
            "due payable", "total amount due", "net a payer", "somme a payer", "solde a payer",
            "total a payer", "montant du", "reste a payer", "te betalen", "totaal te betalen",
            "openstaand bedrag", "payable", "balance", "residual",
        )
    ),
    "net": tuple(
        (phrase, 1.0)
        for phrase in (
            "subtotal", "sub total", "subtotaal", "net total", "net amount", "total net",
            "total excl vat", "total excluding vat", "amount excl vat", "nettobetrag",
            "summe netto", "nettosumme", "netto summe", "rechnungssumme netto",
            "rechnungssumme ohne ust", "summe ohne ust", "gesamt netto", "gesamtbetrag netto",
            "zwischensumme", "total ht", "montant ht", "total hors taxes", "sous total",
            "montant hors taxes", "exclusief btw", "excl btw", "totaal excl btw", "netto",
            "grondslag", "excl ust", "exkl ust", "excl mwst", "exkl mwst", "ohne ust",
            "ohne mwst", "net", "total hors tva", "totaal exclusief btw",
            "amount before tax", "taxable amount", "total before tax", "total exc vat",
            "netto bedrag", "nettobedrag", "total hors taxe", "total net ht", "warenwert netto",
            "total excl tax", "total excluding tax", "total exc tax", "total tax excl",
        )
    ),
    "linesum": tuple(
        (phrase, 1.0)
        for phrase in (
            "positionssumme", "summe positionen", "summe der positionen", "warensumme",
            "total lines", "line total", "sum of lines", "line items total", "total articles",
            "total des lignes", "artikelsumme",
        )
    ),
    "tax": (
        *(
            (phrase, 1.0)
            for phrase in (
                "steuerbetrag", "steuer betrag", "mwst betrag", "ust betrag", "ust gesamt",
                "mwst gesamt", "summe ust", "summe mwst", "zuzugl ust", "zuzugl mwst",
                "zzgl ust", "zzgl mwst", "zuzuglich ust", "zuzuglich mwst", "vat amount",
                "vat total", "total vat", "tax amount", "tax total", "total tax", "sales tax",
                "montant tva", "total tva", "total taxes", "btw bedrag", "totaal btw",
                "umsatzsteuerbetrag", "mehrwertsteuerbetrag", "total gst", "gst amount",
            )
        ),
        *(
            (phrase, 0.8)
            for phrase in (
                "mwst", "ust", "umsatzsteuer", "mehrwertsteuer", "vat", "tax", "tva", "btw",
                "gst", "igst", "cgst", "sgst", "taxes", "omzetbelasting", "steuer",
            )
        ),
    ),
    "other_amount": tuple(
        (phrase, 1.0)
        for phrase in (
            "erhaltene anzahlungen", "anzahlung", "gesamtbetrag der zuschlage",
            "gesamtbetrag der abschlage", "credits", "rabatt", "skonto", "discount",
            "acompte", "einzelpreis", "unit price", "preis", "price", "prix", "prijs",
            "nettopreis", "basisbetrag", "steuerbasisbetrag", "tax base", "taxe base",
            "base", "warenwert", "grundbetrag", "zu abschlag", "leergutwert", "charges",
            "inclusief btw", "incl btw", "inkl ust", "inkl mwst", "incl vat", "prix unitaire",
            "prepaid", "paid", "deposit", "already paid", "bruttopreis", "abschlag", "zuschlag",
            "capital", "au capital de", "versicherungssteuer", "basismenge",
        )
    ),
    "currency": tuple(
        (phrase, 1.0)
        for phrase in (
            "wahrung", "rechnungswahrung", "currency", "invoice currency", "devise", "valuta",
            "betrage in", "amounts in", "montants en", "bedragen in", "prices are in",
        )
    ),
    "rate": tuple(
        (phrase, 1.0)
        for phrase in (
            "ust %", "mwst %", "btw %", "vat %", "tax %", "tva %", "steuersatz", "ust satz",
            "mwst satz", "taux", "tarief", "tax rate", "vat rate", "taux tva", "btw tarief",
        )
    ),
    "seller": (
        *(
            (phrase, 1.0)
            for phrase in (
                "verkaufer", "rechnungsersteller", "leistungserbringer", "seller", "supplier",
                "vendor", "sold by", "bill from", "invoice from", "fournisseur", "vendeur",
                "emetteur", "leverancier", "verkoper", "absender", "rechnungssteller",
            )
        ),
        ("^from", 0.6),
    ),
    "buyer": (
        *(
            (phrase, 1.0)
            for phrase in (
                "kaufer", "leistungsempfanger", "rechnungsempfanger", "rechnungsadresse",
                "abweichender rechnungsempfanger", "auftraggeber", "bill to", "billed to",
                "invoice to", "invoiced to", "sold to", "buyer", "billing address",
                "adresse de facturation", "facture a", "facturer a", "destinataire",
                "acheteur", "factuuradres", "rechnung an", "bill to address", "^klant",
                "^kunde", "^customer", "^client", "^to", "^aan", "^an",
            )
        ),
    ),
    "delivery": tuple(
        (phrase, 1.0)
        for phrase in (
            "lieferadresse", "lieferanschrift", "ship to", "shipping address",
            "delivery address", "adresse de livraison", "afleveradres", "warenempfanger",
            "abweichender warenempfanger", "livre a", "deliver to",
        )
    ),
    "section": tuple(
        (phrase, 1.0)
        for phrase in (
            "bemerkungen", "bemerkung", "hinweis", "hinweise", "betreff", "notes", "note",
            "remarks", "comments", "anmerkungen", "inhalt", "zahlungsbedingungen",
            "payment terms", "conditions de paiement", "betalingsvoorwaarden", "anschrift",
            "adresse", "address", "positionsdaten", "zahlungsart", "zahlungsinformationen",
            "bankverbindung", "bank details", "bank account", "terms and conditions",
            "description", "beschreibung", "subject", "objet", "onderwerp",
        )
    ),
    "payee": tuple(
        (phrase, 1.0)
        for phrase in (
            "zahlungsempfanger", "abweichender zahlungsempfanger", "payee",
            "steuerbevollmachtigter des verkaufers", "beneficiaire",
        )
    ),
}  # fmt: skip


WEAK: dict[str, float] = {
    "balance": 0.6,
    "residual": 0.5,
    "payable": 0.5,
    "netto": 0.7,
    "net": 0.6,
    "steuer": 0.6,
    "taxes": 0.7,
}
"""Single words that are labels only sometimes: their strength is capped."""
