"""The request escape hatch: parameters the bindings do not declare, sent explicitly over both
transports; an unknown keyword to a stub still fails before anything is sent."""

from __future__ import annotations

from typing import Any

import pytest

ADMIN = {"login": "admin", "password": "secret"}


@pytest.mark.parametrize("transport", ["json", "soap"])
def test_extra_params_reach_the_server(sim: Any, transport: str) -> None:
    from portabilling import AdminClient, EncodeError
    from portabilling.types import CustomerInfo

    with AdminClient(sim.url, transport=transport, **ADMIN) as client:
        i_customer = client.customer.add_customer(customer_info=CustomerInfo(name="X")).i_customer
        extra = {"with_customer_info": 1, "detail": {"level": "full", "ids": [1, 2]}}
        info = client.customer.with_options(extra_params=extra).get_customer_info(
            i_customer=i_customer
        )
        assert info.customer_info.name == "X"
        (call,) = [c for c in sim.sim.calls if c.method == "get_customer_info"]
        params = call.params if transport == "json" else call.params[0]
        # SOAP::Lite hands every scalar over as text; the JSON API keeps numbers
        assert str(params["with_customer_info"]) == "1"
        assert params["detail"]["level"] == "full"
        assert [str(i) for i in params["detail"]["ids"]] == ["1", "2"]
        assert str(params["i_customer"]) == str(i_customer)  # the declared ones still go

        sim.sim.calls.clear()
        with pytest.raises(TypeError, match="with_customer_info"):
            client.customer.get_customer_info(i_customer=i_customer, with_customer_info=1)
        declared = client.customer.with_options(extra_params={"i_customer": 5})
        with pytest.raises(EncodeError, match="declared"):
            declared.get_customer_info(i_customer=i_customer)
        bad = client.customer.with_options(extra_params={"a b": 1})
        with pytest.raises(EncodeError, match="not a parameter name"):
            bad.get_customer_info(i_customer=i_customer)
        assert [c for c in sim.sim.calls if c.method == "get_customer_info"] == []
