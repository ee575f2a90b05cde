"""The contact properties a fresh sandbox portal has: HubSpot defaults, engagement properties and the
custom enumeration `inquiry_type`, and the default property groups."""

from __future__ import annotations

from .properties import Option, PropertyDef


def _opts(*values: str) -> tuple[Option, ...]:
    return tuple(
        Option(label=v.replace("_", " ").title(), value=v, display_order=i) for i, v in enumerate(values)
    )


# Contacts' numemployees is an enumeration (select) of company-size ranges in real portals (companies'
# numberofemployees is a number). PARTLY VERIFIED: the type, from property dumps in public repos.
# UNVERIFIED: these exact option values (no public dump of the options was found; portals may also have
# "1000-5000", "5000-10000", "10000+"). A range's lower bound is what a fit rule compares.
NUMEMPLOYEES_OPTIONS = ("1-5", "5-25", "25-50", "50-100", "100-500", "500-1000", "1000+")
_RANGE_FLOORS = (5, 25, 50, 100, 500, 1000)


def numemployees_range(employees: int) -> str:
    """The numemployees option for a head count: the range whose lower bound is the highest one at or
    below it ("5-25" for 5..24, "1000+" from 1000), so reading a range by its lower bound scores like
    the count itself against thresholds at those bounds."""
    return NUMEMPLOYEES_OPTIONS[sum(1 for floor in _RANGE_FLOORS if employees >= floor)]


LIFECYCLE_STAGES = (
    "subscriber",
    "lead",
    "marketingqualifiedlead",
    "salesqualifiedlead",
    "opportunity",
    "customer",
    "evangelist",
    "other",
)
LEAD_STATUSES = (
    "NEW",
    "OPEN",
    "IN_PROGRESS",
    "OPEN_DEAL",
    "UNQUALIFIED",
    "ATTEMPTED_TO_CONTACT",
    "CONNECTED",
    "BAD_TIMING",
)
INQUIRY_TYPES = ("demo_request", "pricing", "whitepaper", "newsletter", "contact_us")

# "Became a ... date": one read-only datetime per default lifecycle stage, set by HubSpot when the
# contact enters that stage (VERIFIED names: HubSpot property dumps in public repos list
# hs_lifecyclestage_{subscriber,lead,marketingqualifiedlead,salesqualifiedlead,opportunity,customer,
# evangelist,other}_date; docs/sandbox-hubspot.md "Lifecycle stage dates"). Custom stages (2022-09,
# changelog "Customized lifecycle stages") get no such property here: real portals date them only in
# hs_v2_date_entered_<stage id>, which the sandbox does not model.
LIFECYCLE_DATE = "hs_lifecyclestage_{}_date"
_STAGE_LABELS = {
    "marketingqualifiedlead": "Marketing Qualified Lead",
    "salesqualifiedlead": "Sales Qualified Lead",
}


def lifecycle_date_properties(stages: tuple[str, ...]) -> list[PropertyDef]:
    return [
        PropertyDef(
            LIFECYCLE_DATE.format(v),
            f"Became a {_STAGE_LABELS.get(v, v.title())} Date",
            "datetime",
            "date",
            "contactinformation",
            f"The date and time when a contact's lifecycle stage changed to {v}",
            read_only_value=True,
        )
        for v in stages
    ]


DEFAULT_GROUPS: dict[str, str] = {
    "contactinformation": "Contact information",
    "emailinformation": "Email information",
    "conversioninformation": "Conversion information",
    "analyticsinformation": "Web analytics history",
    "sales_properties": "Sales properties",
}


def default_contact_properties() -> list[PropertyDef]:
    """The default and engagement contact properties the sandbox knows, plus custom `inquiry_type`."""
    ci, em, cv, an = "contactinformation", "emailinformation", "conversioninformation", "analyticsinformation"
    p = PropertyDef
    return [
        p("email", "Email", "string", "text", ci, "A contact's email address"),
        p("firstname", "First Name", "string", "text", ci, "A contact's first name"),
        p("lastname", "Last Name", "string", "text", ci, "A contact's last name"),
        p("company", "Company Name", "string", "text", ci, "Name of the contact's company"),
        p(
            "numemployees",
            "Number of Employees",
            "enumeration",
            "select",
            ci,
            "Number of employees at the contact's company",
            tuple(Option(label=v, value=v, display_order=i) for i, v in enumerate(NUMEMPLOYEES_OPTIONS)),
        ),
        p("createdate", "Create Date", "datetime", "date", ci, "The date that a contact entered the system"),
        p(
            "lastmodifieddate",
            "Last Modified Date",
            "datetime",
            "date",
            ci,
            "Most recent timestamp of any property update for a contact",
            read_only_value=True,
        ),
        p(
            "hs_object_id",
            "Record ID",
            "number",
            "number",
            ci,
            "The unique ID for this record",
            read_only_value=True,
        ),
        p(
            "hs_merged_object_ids",
            "Merged Record IDs",
            "enumeration",
            "checkbox",
            ci,
            "The list of record IDs merged into this record",
            read_only_value=True,
        ),
        p(
            "lifecyclestage",
            "Lifecycle Stage",
            "enumeration",
            "radio",
            ci,
            "The qualification of contacts to sales readiness",
            _opts(*LIFECYCLE_STAGES),
        ),
        *lifecycle_date_properties(LIFECYCLE_STAGES),
        p(
            "hs_lead_status",
            "Lead Status",
            "enumeration",
            "radio",
            "sales_properties",
            "The contact's sales, prospecting or outreach status",
            _opts(*LEAD_STATUSES),
        ),
        p("hs_email_open", "Marketing emails opened", "number", "number", em, "", read_only_value=True),
        p("hs_email_click", "Marketing emails clicked", "number", "number", em, "", read_only_value=True),
        p(
            "hs_email_delivered",
            "Marketing emails delivered",
            "number",
            "number",
            em,
            "",
            read_only_value=True,
        ),
        p(
            "hs_email_last_open_date",
            "Last marketing email open date",
            "datetime",
            "date",
            em,
            "",
            read_only_value=True,
        ),
        p(
            "hs_email_last_click_date",
            "Last marketing email click date",
            "datetime",
            "date",
            em,
            "",
            read_only_value=True,
        ),
        p(
            "hs_email_optout",
            "Unsubscribed from all email",
            "bool",
            "booleancheckbox",
            em,
            "Indicates that the contact has opted out of all email",
            _opts("true", "false"),
        ),
        p(
            "num_conversion_events",
            "Number of Form Submissions",
            "number",
            "number",
            cv,
            "",
            read_only_value=True,
        ),
        p(
            "recent_conversion_date",
            "Recent Conversion Date",
            "datetime",
            "date",
            cv,
            "",
            read_only_value=True,
        ),
        p(
            "hs_analytics_num_page_views",
            "Number of Pageviews",
            "number",
            "number",
            an,
            "",
            read_only_value=True,
        ),
        p(
            "hs_analytics_last_visit_timestamp",
            "Time Last Seen",
            "datetime",
            "date",
            an,
            "",
            read_only_value=True,
        ),
        p(
            "inquiry_type",
            "Inquiry type",
            "enumeration",
            "select",
            cv,
            "What the contact asked about",
            _opts(*INQUIRY_TYPES),
            hubspot_defined=False,
            form_field=True,
        ),
    ]
