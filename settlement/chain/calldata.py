"""A contract call's calldata, encoded with the connection's ABI codec directly.

web3.py's ``Contract.encode_abi`` finds the function by matching every argument against every
function of the name, then walks each argument through its normalizers (ENS names, hex strings
for bytes, checksums): ~25 ms for a batch's ``commitBatch`` with sixty accounts, more than
the codec's own encoding. :func:`encode_call` encodes the arguments that need none of that
(the function's name is unique in the ABI, no tuple parameter; every address is a
checksummed ``str``, every ``bytes`` value ``bytes``, every ``string`` a ``str``) with the same
codec (``w3.codec``, strict as web3's), and hands everything else, including whatever the
codec refuses, to ``encode_abi`` itself: the same bytes, or the same error.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from eth_utils import function_signature_to_4byte_selector, is_checksum_address
from web3.contract import Contract

#: Per ABI element (by identity, the element kept alive with it): its input types and
#: selector, or None when :func:`encode_call` leaves it to web3.
_SIGNATURES: dict[int, tuple[Any, tuple[list[str], bytes] | None]] = {}


def _signature(element: Any) -> tuple[list[str], bytes] | None:
    """The input types and 4-byte selector of a function's ABI element; None with a tuple."""
    kept = _SIGNATURES.get(id(element))
    if kept is not None and kept[0] is element:
        return kept[1]
    types = [str(p["type"]) for p in element.get("inputs", [])]
    plain = not any(t.startswith("tuple") for t in types)
    found = None
    if plain:
        selector = function_signature_to_4byte_selector(f"{element['name']}({','.join(types)})")
        found = (types, bytes(selector))
    _SIGNATURES[id(element)] = (element, found)
    return found


def _plain(abi_type: str, value: Any) -> bool:
    """Whether ``value`` needs none of web3's normalizers for ``abi_type``."""
    if abi_type.endswith("]"):  # an array: each element as its base type
        base = abi_type[: abi_type.rindex("[")]
        return isinstance(value, list | tuple) and all(_plain(base, v) for v in value)
    if abi_type == "address":
        return isinstance(value, str) and is_checksum_address(value)
    if abi_type.startswith("bytes"):
        return isinstance(value, bytes)
    if abi_type == "string":
        return isinstance(value, str)
    return True  # integers and bools: the codec decides, as web3's check does


def encode_call(contract: Contract, function: str, args: Sequence[Any]) -> str:
    """``contract.encode_abi(function, args=list(args))``: ``0x`` + selector + arguments.

    Parameters
    ----------
    contract : Contract
        The contract (its ABI and connection's codec).
    function : str
        The function's name.
    args : sequence
        Its arguments, in order.

    Returns
    -------
    str
        The calldata as ``0x``-prefixed lower-case hex, equal to web3's.
    """
    elements = [
        e for e in contract.abi if e.get("type") == "function" and e.get("name") == function
    ]
    signature = _signature(elements[0]) if len(elements) == 1 else None
    values = list(args)
    if signature is not None:
        types, selector = signature
        if len(types) == len(values) and all(map(_plain, types, values)):
            try:
                encoded = contract.w3.codec.encode(types, values)
            except Exception:  # the codec refuses it: web3 says why (or encodes it its way)
                pass
            else:
                return "0x" + (selector + encoded).hex()
    return contract.encode_abi(function, args=values)
