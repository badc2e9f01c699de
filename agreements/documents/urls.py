from django.urls import path

from agreements.documents import views

app_name = "documents"

urlpatterns = [
    path("verify/", views.verify, name="verify"),
    path("verify/ca.pem", views.ca_certificate, name="ca_certificate"),
    # Written into every certificate the CA issues (pki.CRL_PATH, pki.CA_CERT_PATH): fixed.
    path("pki/ca.crl", views.ca_crl, name="ca_crl"),
    path("pki/ca.cer", views.ca_certificate_der, name="ca_certificate_der"),
    path("verify/<uuid:document_id>/", views.verify_document_page, name="verify_document"),
    path(
        "agreements/<int:agreement_id>/translation.pdf",
        views.agreement_translation,
        name="agreement_translation",
    ),
]
