import zoneinfo

from django import forms
from django.core.validators import validate_slug

from kilo_dashboard.validators import validate_single_line

from .models import Role

TIME_ZONE_CHOICES = [(tz, tz.replace("_", " ")) for tz in sorted(zoneinfo.available_timezones())]


class OrganizationCreateForm(forms.Form):
    name = forms.CharField(
        label="Organization name", max_length=100, validators=[validate_single_line]
    )
    slug = forms.CharField(
        label="Address",
        max_length=50,
        required=False,
        validators=[validate_slug],
        help_text="Lowercase letters, digits and hyphens; leave empty to derive it from the name.",
    )
    time_zone = forms.ChoiceField(
        label="Time zone",
        choices=TIME_ZONE_CHOICES,
        initial="UTC",
        help_text="Used for billing periods and day boundaries in charts.",
    )

    def clean_slug(self) -> str:
        return self.cleaned_data["slug"].strip().lower()


class OrganizationSettingsForm(forms.Form):
    name = forms.CharField(
        label="Organization name", max_length=100, validators=[validate_single_line]
    )
    time_zone = forms.ChoiceField(label="Time zone", choices=TIME_ZONE_CHOICES)
    # 254, the column's length (forms.EmailField allows 320): a longer address is a form error,
    # not a database error.
    billing_email = forms.EmailField(label="Billing email", required=False, max_length=254)


class PolicyForm(forms.Form):
    code_training_opt_out = forms.BooleanField(
        label="Code training opt-out",
        required=False,
        help_text="Prevent AI providers from using your code for training.",
    )
    usage_analytics = forms.BooleanField(
        label="Usage analytics",
        required=False,
        help_text=(
            "Show usage per member on the Usage tab (member charts, table, filter and the "
            "member column of the CSV). Off: nobody sees figures per member; organization "
            "totals and billing continue, and each member still sees their own usage."
        ),
    )


class InvitationForm(forms.Form):
    email = forms.EmailField(
        label="Email address",
        max_length=254,  # Invitation.email's length; forms.EmailField would allow 320
        widget=forms.EmailInput(attrs={"autocomplete": "off", "placeholder": "name@company.com"}),
    )
    role = forms.ChoiceField(label="Role", initial=Role.MEMBER)

    def __init__(self, *args: object, grantable_roles: tuple[str, ...], **kwargs: object) -> None:
        """Offers only the roles this inviter may grant; a forged other role is a form error."""
        super().__init__(*args, **kwargs)
        role = self.fields["role"]
        role.choices = [(value, Role(value).label) for value in grantable_roles]
        role.error_messages["invalid_choice"] = (
            "Invite people as Admin or Member; ownership is transferred later."
            if Role.ADMIN in grantable_roles
            else "Only owners can invite admins. Invite them as Member, or ask an owner."
        )


class RoleForm(forms.Form):
    role = forms.ChoiceField(label="Role", choices=Role.choices)


class TransferForm(forms.Form):
    new_owner = forms.UUIDField(label="New owner")
    confirm = forms.CharField(
        label="Type the organization's address to confirm",
        max_length=50,
    )


class MemberListQuery(forms.Form):
    q = forms.CharField(required=False, max_length=100)
    sort = forms.ChoiceField(
        required=False,
        choices=[(s, s) for s in ("name", "email", "role", "activity", "joined")],
    )
    dir = forms.ChoiceField(required=False, choices=[("asc", "asc"), ("desc", "desc")])
    page = forms.IntegerField(required=False, min_value=1)


class RestoreForm(forms.Form):
    """The Undo button after removing a member: which removal (an audit event id) to undo."""

    removal = forms.UUIDField()
