/**
 * Invoice Cloud simulator: the `CloudInvoicing.asmx` endpoint — credentials checked inside
 * each call, IC-level refusals, then `UploadInvoiceFile` or `ViewInvoiceByInvoiceNumber` —
 * and SOAP faults for unknown routes and protocol errors.
 *
 * Like an ASP.NET .asmx service, business failures (bad credentials, a refused file) answer
 * HTTP 200 with `Success=false`; only protocol errors answer a 500 SOAP Fault.
 */
import type { FastifyInstance } from 'fastify';
import { secretMatches, sha256, statusOf } from '../http';
import type { IcFaultController } from './ic-faults';
import {
  AUTH_FAILED,
  BODY_LIMIT,
  IC_ENDPOINT,
  methodFromSoapAction,
  requestFields,
  resultEnvelope,
  sendXml,
  soapFault,
  SoapClientError,
  text,
  type Fields,
  type IcMethod,
  type XmlNode,
} from './soap';
import type { IcState } from './state';

export interface Credentials {
  billerGuid: string;
  webServiceKey: string;
}

/** Digests of the expected credentials, computed once. */
interface ExpectedCredentials {
  billerGuid: Buffer;
  webServiceKey: Buffer;
}

function authenticated(req: XmlNode, expected: ExpectedCredentials): boolean {
  // GUIDs compare case-insensitively; both checks always run so timing does not tell which one failed.
  const guidOk = secretMatches(text(req, 'BillerGUID').toLowerCase(), expected.billerGuid);
  const keyOk = secretMatches(text(req, 'WebServiceKey'), expected.webServiceKey);
  return guidOk && keyOk;
}

function callMethod(
  method: IcMethod,
  req: XmlNode,
  state: IcState,
  expected: ExpectedCredentials,
  icFaults: IcFaultController,
): Fields {
  const refusal = icFaults.refusal(method);
  if (refusal !== null)
    return method === 'UploadInvoiceFile'
      ? { Success: false, ErrorMessage: refusal, InvoiceCount: 0 }
      : { Success: false, BalanceDue: '', PastDue: '', ErrorMessage: refusal };
  if (method === 'UploadInvoiceFile') {
    if (!authenticated(req, expected)) return { Success: false, ErrorMessage: AUTH_FAILED, InvoiceCount: 0 };
    const result = state.upload(text(req, 'FileName'), text(req, 'FileContent'));
    return { Success: result.success, ErrorMessage: result.errorMessage, InvoiceCount: result.invoiceCount };
  }
  if (!authenticated(req, expected))
    return { Success: false, BalanceDue: '', PastDue: '', ErrorMessage: AUTH_FAILED };
  return state.view(text(req, 'InvoiceNumber'));
}

export function registerSoapEndpoint(
  app: FastifyInstance,
  state: IcState,
  creds: Credentials,
  icFaults: IcFaultController,
): void {
  const expected: ExpectedCredentials = {
    billerGuid: sha256(creds.billerGuid.toLowerCase()),
    webServiceKey: sha256(creds.webServiceKey),
  };
  // .asmx services take SOAP 1.1 as text/xml only (anything else is a 415 fault); the raw
  // body is kept as a string for the XML parser.
  app.removeAllContentTypeParsers();
  app.addContentTypeParser(
    ['text/xml', 'application/xml'],
    { parseAs: 'string', bodyLimit: BODY_LIMIT },
    (_req, body, done) => done(null, body),
  );
  app.post(IC_ENDPOINT, async (request, reply) => {
    try {
      const method = methodFromSoapAction(request.headers.soapaction);
      const req = requestFields(typeof request.body === 'string' ? request.body : '', method);
      return sendXml(reply, 200, resultEnvelope(method, callMethod(method, req, state, expected, icFaults)));
    } catch (err) {
      if (err instanceof SoapClientError) return sendXml(reply, 500, soapFault('soap:Client', err.message));
      throw err;
    }
  });
}

export function installErrorHandling(app: FastifyInstance): void {
  app.setNotFoundHandler((request, reply) =>
    sendXml(
      reply,
      404,
      soapFault('soap:Client', `No web service at ${request.method} ${request.url.split('?')[0]}.`),
    ),
  );
  app.setErrorHandler((err, request, reply) => {
    const status = statusOf(err);
    if (status === 415) {
      return sendXml(reply, 415, soapFault('soap:Client', 'Content-Type must be text/xml (SOAP 1.1).'));
    }
    if (status < 500) {
      const message = err instanceof Error ? err.message : 'Bad request.';
      return sendXml(reply, status, soapFault('soap:Client', message));
    }
    request.log.error({ err }, 'IC simulator error');
    return sendXml(reply, 500, soapFault('soap:Server', 'Server was unable to process request.'));
  });
}
