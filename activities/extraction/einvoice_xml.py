"""E-invoice XML read safely into fields: UN/CEFACT CII (ZUGFeRD 1.0, 2.x, Factur-X) and UBL."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from datetime import date, datetime
from decimal import Decimal, InvalidOperation
from typing import NoReturn
from xml.parsers import expat

from models.invoices import HEADER_FIELDS, ExtractedInvoice, InvoiceFields, LineItem

Element = ET.Element | None


class UnreadableEInvoice(ValueError):
    """XML that is not a safe, well-formed CII or UBL invoice."""


def invoice_from_xml(data: bytes) -> ExtractedInvoice:
    """The fields of a CII or UBL invoice or credit note; every field it holds has confidence 1."""
    root = parse_xml(data)
    if _find(root, "{*}ExchangedDocument", "{*}HeaderExchangedDocument") is not None:
        fields = _cii_fields(root)
    elif _local(root.tag) in ("Invoice", "CreditNote") and _find(root, "{*}ID") is not None:
        fields = _ubl_fields(root)
    else:
        raise UnreadableEInvoice(f"its root element {_local(root.tag)} is no CII or UBL invoice")
    confidence = {name: 1.0 for name in HEADER_FIELDS if getattr(fields, name) is not None}
    return ExtractedInvoice(fields=fields, confidence=confidence, method="embedded_xml")


def parse_xml(data: bytes) -> ET.Element:
    """The root element of the XML; a DTD or entity declaration is refused, never expanded."""
    builder = ET.TreeBuilder()
    parser = expat.ParserCreate(namespace_separator="}")
    parser.buffer_text = True
    parser.SetParamEntityParsing(expat.XML_PARAM_ENTITY_PARSING_NEVER)
    parser.StartDoctypeDeclHandler = _refuse_declarations
    parser.EntityDeclHandler = _refuse_declarations
    parser.ExternalEntityRefHandler = _refuse_declarations
    parser.StartElementHandler = lambda name, attributes: builder.start(
        _clark(name), {_clark(key): value for key, value in attributes.items()}
    )
    parser.EndElementHandler = lambda name: builder.end(_clark(name))
    parser.CharacterDataHandler = builder.data
    try:
        parser.Parse(data, True)
    except expat.ExpatError as error:
        raise UnreadableEInvoice(f"the XML is not well-formed ({error})") from error
    return builder.close()


def _refuse_declarations(*_: object) -> NoReturn:
    raise UnreadableEInvoice("the XML declares a DTD or entities, which an e-invoice never needs")


def _clark(name: str) -> str:
    """expat's `uri}local` as ElementTree's `{uri}local`."""
    return "{" + name if "}" in name else name


def _local(tag: str) -> str:
    return tag.rsplit("}", 1)[-1]


def _cii_fields(root: ET.Element) -> InvoiceFields:
    """CII 2.x (`ApplicableHeaderTrade...`) and ZUGFeRD 1.0 (`ApplicableSupplyChainTrade...`)."""
    document = _find(root, "{*}ExchangedDocument", "{*}HeaderExchangedDocument")
    trade = _find(root, "{*}SupplyChainTradeTransaction", "{*}SpecifiedSupplyChainTradeTransaction")
    agreement = _find(
        trade, "{*}ApplicableHeaderTradeAgreement", "{*}ApplicableSupplyChainTradeAgreement"
    )
    settlement = _find(
        trade, "{*}ApplicableHeaderTradeSettlement", "{*}ApplicableSupplyChainTradeSettlement"
    )
    totals = _find(
        settlement,
        "{*}SpecifiedTradeSettlementHeaderMonetarySummation",
        "{*}SpecifiedTradeSettlementMonetarySummation",
    )
    currency = _text(settlement, "{*}InvoiceCurrencyCode")
    lines = trade.findall("{*}IncludedSupplyChainTradeLineItem") if trade is not None else []
    return InvoiceFields(
        invoice_number=_text(document, "{*}ID"),
        invoice_date=_cii_date(_find(document, *_date_paths("{*}IssueDateTime"))),
        due_date=_cii_date(
            _find(settlement, *_date_paths("{*}SpecifiedTradePaymentTerms/{*}DueDateDateTime"))
        ),
        supplier_name=_text(agreement, "{*}SellerTradeParty/{*}Name"),
        supplier_tax_id=_cii_tax_id(_find(agreement, "{*}SellerTradeParty")),
        buyer_name=_text(agreement, "{*}BuyerTradeParty/{*}Name"),
        currency=currency,
        total_amount=_amount(totals, currency, "{*}GrandTotalAmount"),
        tax_amount=_amount(totals, currency, "{*}TaxTotalAmount"),
        subtotal=_amount(totals, currency, "{*}LineTotalAmount"),
        po_number=_text(
            agreement,
            "{*}BuyerOrderReferencedDocument/{*}IssuerAssignedID",
            "{*}BuyerOrderReferencedDocument/{*}ID",
        ),
        line_items=[_cii_line(line) for line in lines],
    )


def _cii_line(line: ET.Element) -> LineItem:
    product = _find(line, "{*}SpecifiedTradeProduct")
    price = _find(line, ".//{*}NetPriceProductTradePrice")
    return LineItem(
        description=_text(product, "{*}Name", "{*}Description") or "",
        item_code=_text(product, "{*}SellerAssignedID", "{*}BuyerAssignedID", "{*}GlobalID"),
        quantity=_decimal(_text(line, ".//{*}BilledQuantity")),
        unit_price=_unit_price(
            _decimal(_text(price, "{*}ChargeAmount")), _decimal(_text(price, "{*}BasisQuantity"))
        ),
        line_total=_decimal(_text(line, ".//{*}LineTotalAmount")),
        tax_rate=_decimal(
            _text(
                line,
                ".//{*}ApplicableTradeTax/{*}RateApplicablePercent",
                ".//{*}ApplicableTradeTax/{*}ApplicablePercent",
            )
        ),
    )


def _cii_tax_id(party: Element) -> str | None:
    """The seller's VAT id (scheme VA), else its tax number (FC)."""
    if party is None:
        return None
    registrations = party.findall("{*}SpecifiedTaxRegistration/{*}ID")
    by_scheme = {element.get("schemeID"): (element.text or "").strip() for element in registrations}
    return by_scheme.get("VA") or by_scheme.get("FC") or None


def _date_paths(path: str) -> tuple[str, str]:
    """A CII date holds a `DateTimeString`; early ZUGFeRD drafts put the string in it directly."""
    return f"{path}/{{*}}DateTimeString", path


def _cii_date(element: Element) -> date | None:
    """A CII `DateTimeString` (format 102 is `YYYYMMDD`; ISO dates are accepted too)."""
    if element is None or not element.text:
        return None
    text = element.text.strip()
    try:
        if element.get("format", "102") == "102" and len(text) == 8:
            return datetime.strptime(text, "%Y%m%d").date()
        return date.fromisoformat(text[:10])
    except ValueError:
        return None


def _ubl_fields(root: ET.Element) -> InvoiceFields:
    """A UBL 2.x Invoice or CreditNote."""
    currency = _text(root, "{*}DocumentCurrencyCode")
    totals = _find(root, "{*}LegalMonetaryTotal")
    supplier = _find(root, "{*}AccountingSupplierParty/{*}Party")
    lines = root.findall("{*}InvoiceLine") + root.findall("{*}CreditNoteLine")
    return InvoiceFields(
        invoice_number=_text(root, "{*}ID"),
        invoice_date=_iso_date(_text(root, "{*}IssueDate")),
        due_date=_iso_date(_text(root, "{*}DueDate", "{*}PaymentMeans/{*}PaymentDueDate")),
        supplier_name=_ubl_party_name(supplier),
        supplier_tax_id=_text(supplier, "{*}PartyTaxScheme/{*}CompanyID"),
        buyer_name=_ubl_party_name(_find(root, "{*}AccountingCustomerParty/{*}Party")),
        currency=currency,
        total_amount=_amount(totals, currency, "{*}TaxInclusiveAmount", "{*}PayableAmount"),
        tax_amount=_amount(root, currency, "{*}TaxTotal/{*}TaxAmount"),
        subtotal=_amount(totals, currency, "{*}LineExtensionAmount"),
        po_number=_text(root, "{*}OrderReference/{*}ID"),
        line_items=[_ubl_line(line) for line in lines],
    )


def _ubl_line(line: ET.Element) -> LineItem:
    item = _find(line, "{*}Item")
    return LineItem(
        description=_text(item, "{*}Name", "{*}Description") or "",
        item_code=_text(item, "{*}SellersItemIdentification/{*}ID"),
        quantity=_decimal(_text(line, "{*}InvoicedQuantity", "{*}CreditedQuantity")),
        unit_price=_unit_price(
            _decimal(_text(line, "{*}Price/{*}PriceAmount")),
            _decimal(_text(line, "{*}Price/{*}BaseQuantity")),
        ),
        line_total=_decimal(_text(line, "{*}LineExtensionAmount")),
        tax_rate=_decimal(_text(item, "{*}ClassifiedTaxCategory/{*}Percent")),
    )


def _ubl_party_name(party: Element) -> str | None:
    return _text(party, "{*}PartyName/{*}Name", "{*}PartyLegalEntity/{*}RegistrationName")


def _iso_date(text: str | None) -> date | None:
    try:
        return date.fromisoformat(text[:10]) if text else None
    except ValueError:
        return None


def _find(parent: Element, *paths: str) -> Element:
    """The first element any of the paths finds under the parent, tried in order."""
    if parent is None:
        return None
    for path in paths:
        found = parent.find(path)
        if found is not None:
            return found
    return None


def _text(parent: Element, *paths: str) -> str | None:
    """The stripped text of the first of the paths that finds a non-empty element."""
    if parent is None:
        return None
    for path in paths:
        for element in parent.iterfind(path):
            if element.text and element.text.strip():
                return element.text.strip()
    return None


def _amount(parent: Element, currency: str | None, *paths: str) -> Decimal | None:
    """The first amount the paths find, in the invoice's currency if another repeats it."""
    if parent is None:
        return None
    for path in paths:
        elements = parent.findall(path)
        preferred = [e for e in elements if e.get("currencyID") in (None, currency)] or elements
        if preferred:
            return _decimal(preferred[0].text)
    return None


def _decimal(text: str | None) -> Decimal | None:
    if text is None:
        return None
    try:
        value = Decimal(text.strip())
    except InvalidOperation:
        return None
    return value if value.is_finite() else None


def _unit_price(price: Decimal | None, per_quantity: Decimal | None) -> Decimal | None:
    """The price of one unit, where the document prices a basis quantity of units."""
    if price is None or per_quantity is None or per_quantity in (0, 1):
        return price
    return price / per_quantity
