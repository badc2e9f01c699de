from tests import factories


def test_a_county_dispute_reaches_the_mediator_through_every_step(demo):
    dispute = factories.dispute_in_mediation()
    assert dispute.status == "in_mediation"
    assert dispute.organisation.name == "安吉县社会矛盾纠纷调处化解中心"
    assert dispute.audit_events.count() >= 3
