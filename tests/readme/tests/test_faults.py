# tests/test_faults.py
import pytest
from portabilling import AdminClient, AuthError, NotFound, TransportError
from portabilling.types import CustomerInfo

from generator.simulator import Running


def test_a_missing_customer(portabilling_sim: Running, portabilling_client: AdminClient) -> None:
    portabilling_sim.faults.fault(
        "Customer.get_customer_info", "Server.Customer.get_customer_info.not_found"
    )
    with pytest.raises(NotFound):
        portabilling_client.customer.get_customer_info(i_customer=1)


def test_a_lost_connection(portabilling_sim: Running, portabilling_client: AdminClient) -> None:
    portabilling_sim.faults.drop("Customer.add_customer")  # writes are sent once: no retry
    with pytest.raises(TransportError):
        portabilling_client.customer.add_customer(customer_info=CustomerInfo(name="acme"))


def test_a_refused_session(portabilling_sim: Running, portabilling_client: AdminClient) -> None:
    code = "Server.Session.check_auth.auth_failed"  # the client logs in again once, then gives up
    portabilling_sim.faults.fault("Customer.get_customer_list", code, count=2)
    with pytest.raises(AuthError):
        portabilling_client.customer.get_customer_list()
