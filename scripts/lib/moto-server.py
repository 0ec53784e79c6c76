"""moto_server, with Route 53's own rules for DELETE and CREATE in a change batch.

Route 53 refuses a whole ChangeResourceRecordSets batch (InvalidChangeBatch, nothing applied) when one of its
DELETEs does not match a record set exactly as it exists (name, type, set identifier, weight, TTL, values or alias
target), or when one of its CREATEs names a record set that already exists. moto 5 checks neither: its DELETE
removes whatever carries the name and type (or the set identifier, in any name), so a batch meant as a
compare-and-set always succeeds there. The traffic router fences its changes with exactly such a batch (a DELETE of
the fence record as it read it, see src/traffic/route53/record-sets.ts), so the emulator must refuse what Route 53
refuses, or no test could see the fence work. This wrapper checks a batch against the zone before moto applies it,
then hands it to moto unchanged.

moto also answers every change with one fixed change id (`/change/C2682N5HXP0BZ4`) and GetChange with INSYNC for
any id at all, so a client that waited on the wrong change (another one's id, or one it never got) would pass here
and hang or lie against Route 53. Here each change gets an id of its own, and GetChange of an id this server never
handed out is NoSuchChange, as Route 53 answers it. Everything else is moto's. Started by scripts/services.sh with
moto_server's arguments.
"""

import secrets
import sys

from moto.route53 import models
from moto.route53 import responses
from moto.route53.exceptions import Route53ClientError
from moto.server import main


class BatchRefused(Route53ClientError):
    def __init__(self, message: str) -> None:
        super().__init__("InvalidChangeBatch", message)


def _name(value) -> str:
    return str(value or "").rstrip(".").lower()


def _int(value):
    return None if value is None or value == "" else int(value)


def _values(records) -> list:
    return sorted(r["Value"] if isinstance(r, dict) else r for r in (records or []))


def _alias(alias):
    if not alias:
        return None
    return (_name(alias.get("DNSName")), alias.get("HostedZoneId"), str(alias.get("EvaluateTargetHealth", "false")).lower())


def _same_set(existing, wanted: dict) -> bool:
    return (
        _name(existing.name) == _name(wanted.get("Name"))
        and existing.type == wanted.get("Type")
        and (existing.set_identifier or None) == (wanted.get("SetIdentifier") or None)
    )


def _describe(wanted: dict) -> str:
    described = f"name='{_name(wanted.get('Name'))}.', type='{wanted.get('Type')}'"
    if wanted.get("SetIdentifier"):
        described += f", set-identifier='{wanted['SetIdentifier']}'"
    return f"[{described}]"


def _matches(existing, wanted: dict) -> bool:
    if _int(existing.weight) != _int(wanted.get("Weight")):
        return False
    if wanted.get("AliasTarget") or existing.alias_target:
        return _alias(existing.alias_target) == _alias(wanted.get("AliasTarget"))
    return _int(existing.ttl) == _int(wanted.get("TTL")) and _values(existing.records) == _values(wanted.get("ResourceRecords"))


def _check(zone, change_list) -> None:
    # Each change is checked against the zone as the changes before it in the batch leave it.
    present = list(zone.rrsets)
    for change in change_list:
        wanted = change["ResourceRecordSet"]
        found = next((s for s in present if _same_set(s, wanted)), None)
        if change["Action"] == "DELETE":
            if found is None:
                raise BatchRefused(f"[Tried to delete resource record set {_describe(wanted)} but it was not found]")
            if not _matches(found, wanted):
                raise BatchRefused(
                    f"[Tried to delete resource record set {_describe(wanted)} but the values provided do not match the current values]"
                )
            present.remove(found)
        elif change["Action"] == "CREATE":
            if found is not None:
                raise BatchRefused(f"[Tried to create resource record set {_describe(wanted)} but it already exists]")
            present.append(models.RecordSet(dict(wanted, Name=_name(wanted.get("Name")) + ".")))


_change = models.Route53Backend.change_resource_record_sets


def _checked_change(self, zoneid, change_list):
    _check(self.get_hosted_zone(zoneid), change_list)
    return _change(self, zoneid, change_list)


models.Route53Backend.change_resource_record_sets = _checked_change


class NoSuchChange(Route53ClientError):
    def __init__(self, change_id: str) -> None:
        super().__init__("NoSuchChange", f"A change with the specified change ID does not exist: {change_id}")


# The change ids this server handed out (its state is in memory, as moto's zones are).
_issued: set = set()


def _own_change_id(method):
    def answered(self):
        answer = method(self)
        info = answer.result.get("ChangeInfo") if isinstance(answer.result, dict) else None
        if info is not None:
            change_id = "C" + secrets.token_hex(7).upper()
            _issued.add(change_id)
            info["Id"] = f"/change/{change_id}"
        return answer

    return answered


for _method in ("change_resource_record_sets", "create_hosted_zone", "delete_hosted_zone"):
    setattr(responses.Route53, _method, _own_change_id(getattr(responses.Route53, _method)))

_get_change = responses.Route53.get_change


def _known_change(self):
    change_id = str(self._get_param("Id") or "").split("/")[-1]
    if change_id not in _issued:
        raise NoSuchChange(change_id)
    return _get_change(self)


responses.Route53.get_change = _known_change

if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
