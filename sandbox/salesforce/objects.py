"""The standard objects of a fresh sandbox org, with leadsync's custom fields on Contact and Task."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from .definitions import ChildRelationship, FieldDef, ObjectDef


# ---------------------------------------------------------------- field helpers (standard schema)
def _text(name: str, length: int = 255, **kw: Any) -> FieldDef:
    return FieldDef(name, "string", length=length, **kw)


def _pick(name: str, values: Iterable[str], **kw: Any) -> FieldDef:
    return FieldDef(name, "picklist", length=255, picklist=tuple(values), **kw)


def _ref(name: str, to: str | tuple[str, ...], rel: str, **kw: Any) -> FieldDef:
    targets = (to,) if isinstance(to, str) else to
    return FieldDef(name, "reference", length=18, reference_to=targets, relationship_name=rel, **kw)


def _calc(name: str, type_: str, **kw: Any) -> FieldDef:
    return FieldDef(name, type_, createable=False, updateable=False, calculated=True, **kw)


def _bool(name: str, default: bool = False, **kw: Any) -> FieldDef:
    return FieldDef(name, "boolean", nillable=False, default=default, **kw)


def _system_fields(with_modified: bool = True) -> tuple[FieldDef, ...]:
    ro = {"createable": False, "updateable": False}
    fields = [
        FieldDef("Id", "id", length=18, nillable=False, **ro),
        FieldDef("IsDeleted", "boolean", nillable=False, default=False, **ro),
        FieldDef("CreatedDate", "datetime", nillable=False, **ro),
        _ref("CreatedById", "User", "CreatedBy", nillable=False, **ro),
    ]
    if with_modified:
        fields += [
            FieldDef("LastModifiedDate", "datetime", nillable=False, **ro),
            _ref("LastModifiedById", "User", "LastModifiedBy", nillable=False, **ro),
        ]
    fields.append(FieldDef("SystemModstamp", "datetime", nillable=False, **ro))
    return tuple(fields)


def _owner() -> FieldDef:
    return _ref("OwnerId", "User", "Owner", nillable=False, default="$user")


@dataclass(frozen=True)
class Stage:
    """One row of the org's OpportunityStage table (the Opportunity.StageName picklist, with what each
    value means). `label` is the MasterLabel, the value StageName holds; `api_name` stays the same when
    an admin renames the label (OpportunityStage, object reference: ApiName from API 36.0)."""

    label: str
    api_name: str
    probability: int
    closed: bool = False
    won: bool = False
    forecast: str = "Pipeline"  # ForecastCategory (API value)
    active: bool = True


# A fresh org's stages, plus a custom closed-lost stage as many orgs add one ("Lost - No Budget": IsClosed
# and not IsWon, so it is a loss like "Closed Lost"; facts §13). The order is SortOrder.
STAGES: tuple[Stage, ...] = (
    Stage("Prospecting", "Prospecting", 10),
    Stage("Qualification", "Qualification", 10),
    Stage("Needs Analysis", "Needs Analysis", 20),
    Stage("Value Proposition", "Value Proposition", 50),
    Stage("Id. Decision Makers", "Id. Decision Makers", 60),
    Stage("Perception Analysis", "Perception Analysis", 70),
    Stage("Proposal/Price Quote", "Proposal/Price Quote", 75),
    Stage("Negotiation/Review", "Negotiation/Review", 90, forecast="Forecast"),
    Stage("Closed Won", "Closed Won", 100, closed=True, won=True, forecast="Closed"),
    Stage("Closed Lost", "Closed Lost", 0, closed=True, forecast="Omitted"),
    Stage("Lost - No Budget", "Lost_No_Budget", 0, closed=True, forecast="Omitted"),
)
STAGE_BY_LABEL: dict[str, Stage] = {s.label: s for s in STAGES}
OPPORTUNITY_STAGES: dict[str, tuple[int, bool, bool]] = {  # label -> (probability, IsClosed, IsWon)
    s.label: (s.probability, s.closed, s.won) for s in STAGES
}
FORECAST_NAMES = {"BestCase": "Best Case", "Forecast": "Commit"}  # ForecastCategory value -> label
CLOSED_LOST_STAGES = tuple(s.label for s in STAGES if s.closed and not s.won)


def stage_rows() -> list[dict[str, Any]]:
    """The OpportunityStage rows the org starts with (seeded by `Store.reset`)."""
    return [
        {
            "MasterLabel": s.label,
            "ApiName": s.api_name,
            "IsActive": s.active,
            "IsClosed": s.closed,
            "IsWon": s.won,
            "DefaultProbability": float(s.probability),
            "ForecastCategory": s.forecast,
            "ForecastCategoryName": FORECAST_NAMES.get(s.forecast, s.forecast),
            "SortOrder": order,
        }
        for order, s in enumerate(STAGES, start=1)
    ]


# A fresh org's task statuses (TaskStatus, the Task.Status picklist with what each value means): only
# "Completed" is closed; "Not Started" is the default. "Multiple task status values can represent a closed
# task" (Object Reference, TaskStatus: IsClosed), so a Task's IsClosed comes from its status's row, never
# from the name (rules.task_closed). (label, IsClosed, IsDefault); the order is SortOrder.
TASK_STATUSES: tuple[tuple[str, bool, bool], ...] = (
    ("Not Started", False, True),
    ("In Progress", False, False),
    ("Completed", True, False),
    ("Waiting on someone else", False, False),
    ("Deferred", False, False),
)


def task_status_rows() -> list[dict[str, Any]]:
    """The TaskStatus rows the org starts with (seeded by `Store.reset`)."""
    return [{"MasterLabel": label, "ApiName": label, "IsClosed": closed, "IsDefault": default,
             "SortOrder": order} for order, (label, closed, default) in enumerate(TASK_STATUSES, start=1)]


INDUSTRIES = (
    "Agriculture",
    "Apparel",
    "Banking",
    "Biotechnology",
    "Chemicals",
    "Communications",
    "Construction",
    "Consulting",
    "Education",
    "Electronics",
    "Energy",
    "Engineering",
    "Entertainment",
    "Environmental",
    "Finance",
    "Food & Beverage",
    "Government",
    "Healthcare",
    "Hospitality",
    "Insurance",
    "Machinery",
    "Manufacturing",
    "Media",
    "Not For Profit",
    "Other",
    "Recreation",
    "Retail",
    "Shipping",
    "Technology",
    "Telecommunications",
    "Transportation",
    "Utilities",
)
LEAD_SOURCES = ("Web", "Phone Inquiry", "Partner Referral", "Purchased List", "Other")
LOSS_REASONS = (
    "Price",
    "Competitor",
    "No Budget",
    "No Decision",
    "Timing",
    "Product Fit",
    "Duplicate",
    "Spam",
    "Invalid Contact",
    "Other",
    "予算不足",  # no budget
    "競合採用",  # went with a competitor
    "時期尚早",  # too early
)
LEAD_STAGES = ("inquiry", "mql", "tql", "sal", "sgl", "sql", "close", "recycle")


def _person_names() -> tuple[FieldDef, ...]:
    return (
        _text("FirstName", 40),
        _text("LastName", 80, nillable=False),
        _calc("Name", "string", length=121, label="Full Name"),
    )


def standard_objects() -> list[ObjectDef]:
    """The objects of a fresh sandbox org (before custom fields from configuration)."""
    sys_fields = _system_fields()
    return [
        # The org itself, one row: leadsync reads its Id to know which org a state store belongs to.
        # Object Reference for the Salesforce Platform, "Organization": supported calls include query()
        # (PARTLY VERIFIED: page not in the stored copies searched); the emulator refuses API writes
        # (stricter than an org, whose Organization takes some updates).
        ObjectDef(
            "Organization",
            "00D",
            sys_fields
            + (
                _text("Name", 80, nillable=False, label="Name"),
                _pick("OrganizationType", ("Developer Edition", "Enterprise Edition", "Unlimited Edition"),
                      label="Edition"),
                _bool("IsSandbox", label="Is Sandbox"),
                _text("InstanceName", 5, label="Instance Name"),
            ),
            label="Organization",
            label_plural="Organizations",
            createable=False,
            updateable=False,
            deletable=False,
        ),
        ObjectDef(
            "User",
            "005",
            sys_fields
            + _person_names()
            + (
                _text("Username", 80, nillable=False, unique=True),
                FieldDef("Email", "email", length=80, nillable=False),
                _text("Alias", 8),
                _bool("IsActive", default=True),
            ),
            label="User",
            label_plural="Users",
            deletable=False,
        ),
        ObjectDef(
            "Account",
            "001",
            sys_fields
            + (
                _text("Name", 255, nillable=False, label="Account Name"),
                FieldDef("NumberOfEmployees", "int", precision=8, label="Employees"),
                _pick("Industry", INDUSTRIES),
                _pick(
                    "Type",
                    (
                        "Prospect",
                        "Customer - Direct",
                        "Customer - Channel",
                        "Channel Partner / Reseller",
                        "Installation Partner",
                        "Technology Partner",
                        "Other",
                    ),
                    label="Account Type",
                ),
                FieldDef("Website", "url", length=255),
                _text("BillingCountry", 80),
                FieldDef("AnnualRevenue", "currency", precision=18, scale=0),
                _owner(),
            ),
            label="Account",
            label_plural="Accounts",
            children=(
                ChildRelationship("Contacts", "Contact", "AccountId"),
                ChildRelationship("Opportunities", "Opportunity", "AccountId"),
            ),
        ),
        ObjectDef(
            "Contact",
            "003",
            sys_fields
            + _person_names()
            + (
                FieldDef("Email", "email", length=80),
                _ref("AccountId", "Account", "Account", label="Account ID"),
                _bool("HasOptedOutOfEmail", label="Email Opt Out"),
                _text("Title", 128),
                FieldDef("Phone", "phone", length=40, label="Business Phone"),
                _pick("LeadSource", LEAD_SOURCES),
                _text("MailingCountry", 80),
                _owner(),
                _pick("Lead_Stage__c", LEAD_STAGES, restricted=True),
                FieldDef("Lead_Score__c", "double", precision=18, scale=0),
                _pick("Lead_Rank__c", ("hot", "warm", "cold")),
                _pick("Recycle_Group__c", ("high", "low", "waiting", "excluded", "review")),
                _text("Nurture_List__c", 80),
                FieldDef("Leadsync_Explanation__c", "textarea", length=32768),
            ),
            label="Contact",
            label_plural="Contacts",
            children=(
                ChildRelationship("OpportunityContactRoles", "OpportunityContactRole", "ContactId"),
                ChildRelationship("CampaignMembers", "CampaignMember", "ContactId"),
                ChildRelationship("Tasks", "Task", "WhoId"),
            ),
        ),
        ObjectDef(
            "Lead",
            "00Q",
            sys_fields
            + _person_names()
            + (
                _text("Company", 255, nillable=False),
                FieldDef("Email", "email", length=80),
                _pick(
                    "Status",
                    (
                        "Open - Not Contacted",
                        "Working - Contacted",
                        "Closed - Converted",
                        "Closed - Not Converted",
                    ),
                    restricted=True,
                    nillable=False,
                    default="Open - Not Contacted",
                    label="Lead Status",
                ),
                _bool("HasOptedOutOfEmail", label="Email Opt Out"),
                FieldDef("NumberOfEmployees", "int", precision=8, label="Employees"),
                _pick("Industry", INDUSTRIES),
                _pick("LeadSource", LEAD_SOURCES),
                _calc("IsConverted", "boolean", nillable=False, default=False),
                _owner(),
            ),
            label="Lead",
            label_plural="Leads",
            children=(
                ChildRelationship("CampaignMembers", "CampaignMember", "LeadId"),
                ChildRelationship("Tasks", "Task", "WhoId"),
            ),
        ),
        ObjectDef(
            "Opportunity",
            "006",
            sys_fields
            + (
                _text("Name", 120, nillable=False, label="Opportunity Name"),
                _pick(
                    "StageName",
                    (s.label for s in STAGES if s.active),
                    restricted=True,
                    nillable=False,
                    label="Stage",
                ),
                FieldDef("CloseDate", "date", nillable=False),
                FieldDef("Amount", "currency", precision=18, scale=2),
                FieldDef("Probability", "percent", precision=3, scale=0, label="Probability (%)"),
                _calc("IsClosed", "boolean", nillable=False, default=False, label="Closed"),
                _calc("IsWon", "boolean", nillable=False, default=False, label="Won"),
                _pick(
                    "Type",
                    (
                        "New Customer",
                        "Existing Customer - Upgrade",
                        "Existing Customer - Replacement",
                        "Existing Customer - Downgrade",
                    ),
                    label="Opportunity Type",
                ),
                _pick("LeadSource", LEAD_SOURCES),
                FieldDef("Description", "textarea", length=32000),
                _ref("AccountId", "Account", "Account", label="Account ID"),
                _owner(),
                _pick("Loss_Reason__c", LOSS_REASONS),
            ),
            label="Opportunity",
            label_plural="Opportunities",
            children=(
                ChildRelationship("OpportunityContactRoles", "OpportunityContactRole", "OpportunityId"),
                ChildRelationship("OpportunityHistories", "OpportunityHistory", "OpportunityId"),
                ChildRelationship("Tasks", "Task", "WhatId"),
            ),
        ),
        ObjectDef(
            "OpportunityHistory",
            "008",
            _system_fields(with_modified=False)
            + (
                _ref("OpportunityId", "Opportunity", "Opportunity", nillable=False, updateable=False),
                _pick("StageName", OPPORTUNITY_STAGES, nillable=False, updateable=False, label="Stage"),
                FieldDef("Amount", "currency", precision=18, scale=2, updateable=False),
                FieldDef("ExpectedRevenue", "currency", precision=18, scale=2, updateable=False),
                FieldDef("CloseDate", "date", updateable=False),
                FieldDef("Probability", "percent", precision=3, scale=0, updateable=False),
            ),
            label="Opportunity History",
            label_plural="Opportunity History",
            createable=False,
            updateable=False,
            deletable=False,
        ),
        ObjectDef(  # read-only over the API: query, retrieve, describe (object reference)
            "OpportunityStage",
            "01J",
            sys_fields
            + (
                _text("MasterLabel", 255, nillable=False, label="Master Label"),
                _text("ApiName", 255, nillable=False, label="Api Name"),
                _bool("IsActive", label="Active"),
                _bool("IsClosed", label="Closed"),
                _bool("IsWon", label="Won"),
                FieldDef("DefaultProbability", "percent", precision=3, scale=0, label="Probability (%)"),
                _pick("ForecastCategory", ("Omitted", "Pipeline", "BestCase", "Forecast", "Closed")),
                _pick("ForecastCategoryName", ("Omitted", "Pipeline", "Best Case", "Commit", "Closed")),
                FieldDef("SortOrder", "int", precision=9, label="Sort Order"),
                _text("Description", 255),
            ),
            label="Opportunity Stage",
            label_plural="Opportunity Stages",
            createable=False,
            updateable=False,
            deletable=False,
        ),
        ObjectDef(  # read-only over the API: query, retrieve, describe (Object Reference, TaskStatus)
            "TaskStatus",
            "01K",  # the emulator's own prefix (one per object here; the real one is not known to it)
            sys_fields
            + (
                _text("MasterLabel", 255, label="Master Label"),
                _text("ApiName", 255, nillable=False, label="Api Name"),
                _bool("IsClosed", label="Closed"),
                _bool("IsDefault", label="Default"),
                FieldDef("SortOrder", "int", precision=9, label="Sort Order"),
            ),
            label="Task Status",
            label_plural="Task Statuses",
            createable=False,
            updateable=False,
            deletable=False,
        ),
        ObjectDef(
            "OpportunityContactRole",
            "00K",
            sys_fields
            + (
                _ref("OpportunityId", "Opportunity", "Opportunity", nillable=False, updateable=False),
                _ref("ContactId", "Contact", "Contact", nillable=False),
                _pick(
                    "Role",
                    (
                        "Business User",
                        "Decision Maker",
                        "Economic Buyer",
                        "Economic Decision Maker",
                        "Evaluator",
                        "Executive Sponsor",
                        "Influencer",
                        "Technical Buyer",
                        "Other",
                    ),
                ),
                _bool("IsPrimary", label="Primary"),
            ),
            label="Opportunity Contact Role",
            label_plural="Opportunity Contact Role",
        ),
        ObjectDef(
            "Campaign",
            "701",
            sys_fields
            + (
                _text("Name", 80, nillable=False, label="Campaign Name"),
                _bool("IsActive", label="Active"),
                _pick(
                    "Type",
                    (
                        "Conference",
                        "Webinar",
                        "Trade Show",
                        "Public Relations",
                        "Partners",
                        "Referral Program",
                        "Advertisement",
                        "Banner Ads",
                        "Direct Mail",
                        "Email",
                        "Telemarketing",
                        "Other",
                    ),
                ),
                _pick("Status", ("Planned", "In Progress", "Completed", "Aborted")),
                FieldDef("StartDate", "date"),
                FieldDef("EndDate", "date"),
                _owner(),
            ),
            label="Campaign",
            label_plural="Campaigns",
            children=(ChildRelationship("CampaignMembers", "CampaignMember", "CampaignId"),),
        ),
        ObjectDef(
            "CampaignMember",
            "00v",
            sys_fields
            + (
                _ref("CampaignId", "Campaign", "Campaign", nillable=False, updateable=False),
                _ref("ContactId", "Contact", "Contact", updateable=False),
                _ref("LeadId", "Lead", "Lead", updateable=False),
                _pick("Status", ("Planned", "Received", "Responded", "Sent"), default="Sent"),
                _calc("HasResponded", "boolean", nillable=False, default=False, label="Responded"),
            ),
            label="Campaign Member",
            label_plural="Campaign Members",
        ),
        ObjectDef(
            "Task",
            "00T",
            sys_fields
            + (
                FieldDef(
                    "Subject", "combobox", length=255, picklist=("Call", "Send Letter", "Send Quote", "Other")
                ),
                FieldDef("Description", "textarea", length=32000, label="Comments"),
                FieldDef("ActivityDate", "date", label="Due Date Only"),
                _pick(
                    "Status",
                    tuple(label for label, _, _ in TASK_STATUSES),
                    nillable=False,
                    default="Not Started",
                ),
                _pick("Priority", ("High", "Normal", "Low"), nillable=False, default="Normal"),
                _calc("IsClosed", "boolean", nillable=False, default=False, label="Closed"),
                # set by the org when the task is saved with a closed status (rules.task_closed); read-only
                FieldDef("CompletedDateTime", "datetime", createable=False, updateable=False,
                         label="Completed Date/Time"),
                _ref("WhoId", ("Contact", "Lead"), "Who", label="Name ID"),
                _ref("WhatId", ("Account", "Opportunity", "Campaign"), "What", label="Related To ID"),
                _owner(),
                _text("Leadsync_Cycle_Key__c", 255, external_id=True, unique=True),
            ),
            label="Task",
            label_plural="Tasks",
        ),
    ]
